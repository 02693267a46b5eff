-- API tokens and the audit log. Times are integer unix microseconds in UTC; a
-- NULL time is the zero time.

CREATE TABLE api_tokens (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	hash       BLOB    NOT NULL UNIQUE, -- SHA-256 of the token secret
	scopes     TEXT    NOT NULL,        -- JSON array of strings, in the order given
	user_id    TEXT    NOT NULL,        -- '' when the token is not limited to one user
	created_at INTEGER NOT NULL,
	expires_at INTEGER,                 -- NULL: never
	revoked_at INTEGER                  -- NULL: active
) STRICT;

CREATE INDEX api_tokens_created_at ON api_tokens (created_at, id);

-- Append-only. action_id and user_id are plain text, not foreign keys: an
-- event outlives the action it is about. AUTOINCREMENT keeps an ID from ever
-- being handed out twice, even should the newest events be removed by hand.
CREATE TABLE audit_events (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	time      INTEGER NOT NULL,
	actor     TEXT    NOT NULL,
	type      TEXT    NOT NULL,
	action_id TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	detail    TEXT    NOT NULL
) STRICT;

-- One per filter of ListAudit. Every SQLite index ends with the rowid, which id
-- is, so each also serves "AND id > ? ORDER BY id" after its equality.
CREATE INDEX audit_events_action ON audit_events (action_id);
CREATE INDEX audit_events_user ON audit_events (user_id);
CREATE INDEX audit_events_type ON audit_events (type);
