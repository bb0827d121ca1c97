---------------------------------------------------------------- members

CREATE SEQUENCE order_system.member_id_seq;
CREATE TABLE order_system.member (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.member_id_seq'),
	name order_system.name_text NOT NULL,
	email order_system.email_text UNIQUE,
	active boolean NOT NULL DEFAULT true,
	points_balance order_system.amount NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- the member's token bucket for order_system.order_rate_limit (orders a
	-- minute) and order_system.order_burst: what it held after the last
	-- order, and when that was; NULL: never limited yet, the bucket is full
	rate_tokens float8,
	rate_at timestamptz
);
ALTER SEQUENCE order_system.member_id_seq OWNED BY order_system.member.id;
COMMENT ON TABLE order_system.member IS 'Members; points_balance always equals the sum of their points_ledger rows.';
SELECT pg_catalog.pg_extension_config_dump('order_system.member', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.member_id_seq', '');

---------------------------------------------------------------- points ledger

-- No foreign keys: the extension's code writes every reference from a row
-- it read or locked in the same transaction, and referenced rows are never
-- deleted; check_invariants() reports any orphan.
CREATE SEQUENCE order_system.points_ledger_id_seq;
CREATE TABLE order_system.points_ledger (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.points_ledger_id_seq'),
	member_id bigint NOT NULL,
	order_id bigint,
	kind order_system.ledger_kind NOT NULL,
	delta bigint NOT NULL,
	reason order_system.note_text,
	created_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE order_system.points_ledger_id_seq OWNED BY order_system.points_ledger.id;
CREATE INDEX points_ledger_member_idx ON order_system.points_ledger (member_id);
CREATE INDEX points_ledger_order_idx ON order_system.points_ledger (order_id)
	WHERE order_id IS NOT NULL;
COMMENT ON TABLE order_system.points_ledger IS 'Every change of a member''s points balance, with its kind, order and reason.';
SELECT pg_catalog.pg_extension_config_dump('order_system.points_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.points_ledger_id_seq', '');

-- The rule across columns is one call of a C function (src/api/rules.c):
-- PostgreSQL re-reads a table's CHECK expressions from their stored text in
-- every statement that writes the table, and the call is shorter than the
-- CASE it stands for.
CREATE OR REPLACE FUNCTION order_system_internal.ledger_delta_ok(kind order_system.ledger_kind, delta bigint)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_ledger_delta_ok_sql';
COMMENT ON FUNCTION order_system_internal.ledger_delta_ok(order_system.ledger_kind, bigint)
	IS 'CHECK rule: the sign of a points ledger entry suits its kind (points_ledger_sign).';

ALTER TABLE order_system.points_ledger
	ADD CONSTRAINT points_ledger_sign CHECK (order_system_internal.ledger_delta_ok(kind, delta));

---------------------------------------------------------------- member logins

-- A member's own login role: granted order_system_member and linked to the
-- member by set_member_login.  It may place and cancel orders for that
-- member only and reads only that member's rows (src/api/access.c and the
-- policies of 70_row_security.sql).
CREATE TABLE order_system.member_login (
	login name PRIMARY KEY,
	member_id bigint NOT NULL UNIQUE
);
COMMENT ON TABLE order_system.member_login IS 'Login roles that act for one member each (set_member_login).';
SELECT pg_catalog.pg_extension_config_dump('order_system.member_login', '');

-- current_member_id(): the member the calling role acts for; NULL when it
-- acts for any member (app, gateway, operators); 42501 for a member role
-- linked to nobody.
CREATE OR REPLACE FUNCTION order_system.current_member_id()
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_current_member_id'
LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.current_member_id()
	IS 'The member the calling role acts for; NULL for roles that act for any member.';

-- The role's name if it may act for a member, else 22023.
CREATE OR REPLACE FUNCTION order_system_internal.check_member_login(login regrole)
RETURNS name
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	PERFORM order_system_internal.require_arg(check_member_login.login, 'login');
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE oid = check_member_login.login;
	-- Row-level security is what keeps a member role to its rows: not for
	-- roles that bypass it, nor for the extension's roles or their members
	-- (linking the app role would quietly narrow it to one member).
	IF NOT FOUND OR r.rolsuper OR r.rolbypassrls OR r.rolname LIKE 'pg\_%'
	   OR r.rolname LIKE 'order\_system\_%'
	   OR pg_has_role(r.oid, 'order_system_admin', 'MEMBER') OR pg_has_role(r.oid, 'order_system_app', 'MEMBER')
	   OR pg_has_role(r.oid, 'order_system_gateway', 'MEMBER') THEN
		RAISE EXCEPTION 'role % cannot act for a member', check_member_login.login
			USING ERRCODE = '22023',
				  HINT = 'Use a login role of its own for each member: not a superuser, a role that bypasses row-level security, a predefined role or one of the extension''s roles.';
	END IF;
	RETURN r.rolname;
END
$$;
COMMENT ON FUNCTION order_system_internal.check_member_login(regrole)
	IS 'The role''s name if it may act for a member, else 22023.';

-- set_member_login(login, member_id): the role acts for that member from
-- now on (and is granted order_system_member).  clear_member_login(login)
-- ends it (and revokes the grant).
CREATE OR REPLACE FUNCTION order_system.set_member_login(login regrole, member_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role_name name := order_system_internal.check_member_login(set_member_login.login);
BEGIN
	PERFORM order_system_internal.require_writable('set_member_login');
	PERFORM order_system_internal.require_arg(set_member_login.member_id, 'member_id');
	IF NOT EXISTS (SELECT FROM order_system.member m WHERE m.id = set_member_login.member_id) THEN
		RAISE EXCEPTION 'member % not found', set_member_login.member_id USING ERRCODE = 'OS001';
	END IF;
	INSERT INTO order_system.member_login AS l VALUES (role_name, set_member_login.member_id)
	ON CONFLICT ON CONSTRAINT member_login_pkey DO UPDATE SET member_id = excluded.member_id;
	EXECUTE format('GRANT order_system_member TO %I', role_name);
END
$$;
COMMENT ON FUNCTION order_system.set_member_login(regrole, bigint)
	IS 'Link a login role to a member (replacing its link) and grant it order_system_member.';

CREATE OR REPLACE FUNCTION order_system.clear_member_login(login regrole)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	role_name name := order_system_internal.check_member_login(clear_member_login.login);
BEGIN
	PERFORM order_system_internal.require_writable('clear_member_login');
	DELETE FROM order_system.member_login l WHERE l.login = role_name;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	EXECUTE format('REVOKE order_system_member FROM %I', role_name);
	RETURN true;
END
$$;
COMMENT ON FUNCTION order_system.clear_member_login(regrole)
	IS 'End a login role''s link to its member and revoke order_system_member; true if there was one.';

---------------------------------------------------------------- functions

CREATE OR REPLACE FUNCTION order_system.create_member(name text, email text DEFAULT NULL,
													 initial_points bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_create_member'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.create_member(text, text, bigint)
	IS 'Create a member, optionally with an e-mail and a starting points balance; returns its id.';

CREATE OR REPLACE FUNCTION order_system.deactivate_member(member_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_deactivate_member'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.deactivate_member(bigint)
	IS 'Deactivate a member: no new orders; true if it was active.';

CREATE OR REPLACE FUNCTION order_system.adjust_points(member_id bigint, delta bigint, reason text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_adjust_points'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.adjust_points(bigint, bigint, text)
	IS 'Add delta points to a member''s balance with a ledger row; returns the new balance.';

-- get_member and points_history are PL/pgSQL for Citus (as get_order).
CREATE OR REPLACE FUNCTION order_system.get_member(member_id bigint)
RETURNS TABLE (id bigint, name text, email text, active boolean,
			   points_balance bigint, created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	-- the caller's scope is asked only when there is a row to show, as the
	-- SQL bodies up to 0.7.0 asked it
	IF NOT EXISTS (SELECT FROM order_system.member m WHERE m.id = get_member.member_id)
	   OR get_member.member_id IS DISTINCT FROM
		  coalesce(order_system.current_member_id(), get_member.member_id) THEN
		RETURN;
	END IF;
	RETURN QUERY
	SELECT m.id, m.name::text, m.email::text, m.active, m.points_balance::bigint, m.created_at
	  FROM order_system.member m
	 WHERE m.id = get_member.member_id;
END
$$;
COMMENT ON FUNCTION order_system.get_member(bigint)
	IS 'A member''s row (no row for another member when called by a member role).';

CREATE OR REPLACE FUNCTION order_system.points_history(member_id bigint)
RETURNS TABLE (id bigint, kind text, delta bigint, order_id bigint, reason text,
			   created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM order_system.points_ledger l WHERE l.member_id = points_history.member_id)
	   OR points_history.member_id IS DISTINCT FROM
		  coalesce(order_system.current_member_id(), points_history.member_id) THEN
		RETURN;
	END IF;
	RETURN QUERY
	SELECT l.id, l.kind::text, l.delta, l.order_id, l.reason::text, l.created_at
	  FROM order_system.points_ledger l
	 WHERE l.member_id = points_history.member_id
	 ORDER BY l.id;
END
$$;
COMMENT ON FUNCTION order_system.points_history(bigint)
	IS 'A member''s points ledger rows, oldest first.';
