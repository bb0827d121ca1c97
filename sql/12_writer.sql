-- The writer (src/store/rows.c) with order_system.direct_writes on (rows
-- written without a plan where the table allows it) and off (every write as
-- an SQL statement): the same cases, the same results.
-- sql/12_writer_cases.psql (read from the directory pg_regress runs in)
-- holds them; errors name constraints, never ids.
\set VERBOSITY terse
SELECT regress.restart_ids(120000);

SET order_system.direct_writes = on;
\set run on
\ir sql/12_writer_cases.psql

SET order_system.direct_writes = off;
\set run off
\ir sql/12_writer_cases.psql
RESET order_system.direct_writes;
SELECT name, setting, context, boot_val FROM pg_settings WHERE name = 'order_system.direct_writes';

-- Only a superuser may turn it off or on (executor hooks may depend on it).
CREATE ROLE regress_writer_user;
SET ROLE regress_writer_user;
SET order_system.direct_writes = off;
RESET ROLE;
DROP ROLE regress_writer_user;
