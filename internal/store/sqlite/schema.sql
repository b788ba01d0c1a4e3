-- crowdrun store, SQLite. Times are Unix milliseconds. See docs/state_machine.md.
CREATE TABLE IF NOT EXISTS blobs (
	hash       TEXT PRIMARY KEY,      -- hex SHA-256 of data
	data       BLOB NOT NULL,
	size       INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
	id         INTEGER PRIMARY KEY,
	owner      TEXT NOT NULL,
	name       TEXT NOT NULL,
	hash       BLOB NOT NULL UNIQUE,  -- SHA-256 of the secret
	created_at INTEGER NOT NULL,
	revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
	id             INTEGER PRIMARY KEY,
	owner          TEXT NOT NULL,
	name           TEXT NOT NULL,
	module_hash    TEXT NOT NULL REFERENCES blobs(hash),
	state          TEXT NOT NULL,     -- running | done | cancelled
	priority       INTEGER NOT NULL,
	replicas       INTEGER NOT NULL,
	fuel           INTEGER NOT NULL,
	memory         INTEGER NOT NULL,
	max_output     INTEGER NOT NULL,
	timeout_ms     INTEGER NOT NULL,
	task_count     INTEGER NOT NULL,
	tasks_finished INTEGER NOT NULL DEFAULT 0, -- done + disputed; numbers results
	tasks_disputed INTEGER NOT NULL DEFAULT 0,
	tasks_cancelled INTEGER NOT NULL DEFAULT 0,
	fuel_done      INTEGER NOT NULL DEFAULT 0, -- fuel of done tasks
	created_at     INTEGER NOT NULL,
	finished_at    INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner, id);
CREATE TABLE IF NOT EXISTS tasks (
	id          INTEGER PRIMARY KEY,
	job_id      INTEGER NOT NULL REFERENCES jobs(id),
	idx         INTEGER NOT NULL,
	state       TEXT NOT NULL,        -- pending | done | disputed | cancelled
	stdin_hash  TEXT NOT NULL,
	args        TEXT NOT NULL,        -- JSON array
	env         TEXT NOT NULL,        -- JSON array
	files       TEXT NOT NULL,        -- JSON array of {name, hash}
	seed        INTEGER NOT NULL,
	status      TEXT,                 -- agreed result, once finished
	exit_code   INTEGER,
	message     TEXT,
	stdout_hash TEXT,
	stderr_hash TEXT,
	fuel        INTEGER,
	result_seq  INTEGER,              -- 1, 2, ... in the order the job's tasks finished
	finished_at INTEGER,
	UNIQUE(job_id, idx)
);
CREATE INDEX IF NOT EXISTS tasks_results ON tasks(job_id, result_seq) WHERE result_seq IS NOT NULL;
CREATE TABLE IF NOT EXISTS replicas (
	id             INTEGER PRIMARY KEY,
	task_id        INTEGER NOT NULL REFERENCES tasks(id),
	job_id         INTEGER NOT NULL REFERENCES jobs(id),
	idx            INTEGER NOT NULL,
	priority       INTEGER NOT NULL,
	state          TEXT NOT NULL,     -- queued | leased | done | cancelled
	worker         TEXT,              -- who holds or ran it
	session_id     INTEGER REFERENCES sessions(id),
	lease_id       TEXT UNIQUE,       -- "<replica>.<attempt>" while leased
	lease_deadline INTEGER,
	attempts       INTEGER NOT NULL DEFAULT 0,
	status         TEXT,
	exit_code      INTEGER,
	message        TEXT,
	stdout_hash    TEXT,
	stderr_hash    TEXT,
	fuel           INTEGER,
	wall_ms        INTEGER,
	finished_at    INTEGER
);
CREATE INDEX IF NOT EXISTS replicas_queue ON replicas(priority DESC, id) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS replicas_task ON replicas(task_id, worker);
CREATE INDEX IF NOT EXISTS replicas_job ON replicas(job_id, state);
CREATE INDEX IF NOT EXISTS replicas_deadline ON replicas(lease_deadline) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS replicas_session ON replicas(session_id) WHERE state = 'leased';
-- A segment is a replica's execution from one checkpoint to the next. Until
-- continuations land, each replica has exactly one (seq 0), written when it
-- completes.
CREATE TABLE IF NOT EXISTS segments (
	id          INTEGER PRIMARY KEY,
	replica_id  INTEGER NOT NULL REFERENCES replicas(id),
	seq         INTEGER NOT NULL,
	state       TEXT NOT NULL,
	worker      TEXT NOT NULL,
	session_id  INTEGER,
	fuel_start  INTEGER NOT NULL,
	fuel_end    INTEGER,
	state_hash  TEXT,
	finished_at INTEGER,
	UNIQUE(replica_id, seq)
);
-- Worker sessions: one per WebSocket connection. ended_at NULL: still open
-- (or the coordinator died; start-up closes those). Mean session length is
-- estimated from these, with open sessions as censored observations.
CREATE TABLE IF NOT EXISTS sessions (
	id         INTEGER PRIMARY KEY,
	worker     TEXT NOT NULL,
	slots      INTEGER NOT NULL,
	remote     TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER,
	end_reason TEXT
);
CREATE INDEX IF NOT EXISTS segments_worker ON segments(worker);
-- The empty blob always exists, so recording an empty output costs nothing.
INSERT INTO blobs(hash, data, size, created_at)
	VALUES('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', x'', 0, 0) ON CONFLICT(hash) DO NOTHING;
