-- Initial schema. Times are integer unix microseconds in UTC; a NULL time is the
-- zero time. A NULL blob is an absent (nil or empty) byte slice.

CREATE TABLE actions (
	id             TEXT    NOT NULL PRIMARY KEY,
	name           TEXT    NOT NULL,
	openapi_schema TEXT    NOT NULL,
	server_url     TEXT    NOT NULL,
	auth_type      TEXT    NOT NULL,
	auth_config    BLOB,
	secret         BLOB,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

CREATE INDEX actions_created_at ON actions (created_at, id);

CREATE TABLE connections (
	action_id     TEXT    NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
	user_id       TEXT    NOT NULL,
	access_token  BLOB,
	refresh_token BLOB,
	scope         TEXT    NOT NULL,
	expires_at    INTEGER,
	status        TEXT    NOT NULL,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	PRIMARY KEY (action_id, user_id)
) STRICT;

CREATE INDEX connections_user ON connections (user_id, action_id);

CREATE TABLE sign_in_states (
	hash       TEXT    NOT NULL PRIMARY KEY,
	action_id  TEXT    NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
	user_id    TEXT    NOT NULL,
	verifier   BLOB,
	expires_at INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_states_expires_at ON sign_in_states (expires_at);
-- Lets the ON DELETE CASCADE from actions find an action's states without a scan.
CREATE INDEX sign_in_states_action ON sign_in_states (action_id);

CREATE TABLE meta (
	key   TEXT NOT NULL PRIMARY KEY,
	value BLOB
) STRICT;
