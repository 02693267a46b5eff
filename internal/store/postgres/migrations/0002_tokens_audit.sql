-- API tokens and the audit log. Keys are text in the "C" collation, like those
-- of 0001.

CREATE TABLE api_tokens (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	name       text        NOT NULL,
	hash       bytea       NOT NULL UNIQUE, -- SHA-256 of the token secret
	scopes     text[]      NOT NULL,        -- in the order given; '{}' for none
	user_id    text COLLATE "C" NOT NULL,   -- '' when the token is not limited to one user
	created_at timestamptz NOT NULL,
	expires_at timestamptz,                 -- NULL: never
	revoked_at timestamptz                  -- NULL: active
);

CREATE INDEX api_tokens_created_at ON api_tokens (created_at, id);

-- Append-only. action_id and user_id are plain text, not foreign keys: an
-- event outlives the action it is about. Appends take an advisory lock around
-- the insert (see AppendAudit), so IDs become visible in increasing order.
CREATE TABLE audit_events (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time      timestamptz NOT NULL,
	actor     text COLLATE "C" NOT NULL,
	type      text COLLATE "C" NOT NULL,
	action_id text COLLATE "C" NOT NULL,
	user_id   text COLLATE "C" NOT NULL,
	detail    text        NOT NULL
);

-- One per filter of ListAudit: the equality, then "id > $n ORDER BY id".
CREATE INDEX audit_events_action ON audit_events (action_id, id);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_type ON audit_events (type, id);
