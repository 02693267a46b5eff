-- Initial schema. Times are timestamptz (microsecond precision); a NULL
-- expires_at is the zero time. A NULL bytea is an absent (nil or empty) byte
-- slice. Keys are text in the "C" collation, so that they compare and order by
-- byte value whatever the database's default collation.

CREATE TABLE actions (
	id             text COLLATE "C" NOT NULL PRIMARY KEY,
	name           text        NOT NULL,
	openapi_schema text        NOT NULL,
	server_url     text        NOT NULL,
	auth_type      text        NOT NULL,
	auth_config    bytea,
	secret         bytea,
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);

CREATE INDEX actions_created_at ON actions (created_at, id);

CREATE TABLE connections (
	action_id     text COLLATE "C" NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
	user_id       text COLLATE "C" NOT NULL,
	access_token  bytea,
	refresh_token bytea,
	scope         text        NOT NULL,
	expires_at    timestamptz,
	status        text        NOT NULL,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL,
	PRIMARY KEY (action_id, user_id)
);

CREATE INDEX connections_user ON connections (user_id, action_id);

CREATE TABLE sign_in_states (
	hash       text COLLATE "C" NOT NULL PRIMARY KEY,
	action_id  text COLLATE "C" NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
	user_id    text COLLATE "C" NOT NULL,
	verifier   bytea,
	expires_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);

CREATE INDEX sign_in_states_expires_at ON sign_in_states (expires_at);
-- Lets the ON DELETE CASCADE from actions find an action's states without a scan.
CREATE INDEX sign_in_states_action ON sign_in_states (action_id);

CREATE TABLE meta (
	key   text COLLATE "C" NOT NULL PRIMARY KEY,
	value bytea
);
