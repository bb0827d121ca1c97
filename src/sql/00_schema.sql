---------------------------------------------------------------- schemas and roles

-- A schema someone else created (or filled) beforehand could hold planted
-- objects: refuse it instead of installing into it.
DO $guard$
DECLARE
	owner_ok boolean;
	objects bigint;
BEGIN
	SELECT n.nspowner OPERATOR(pg_catalog.=) r.oid INTO owner_ok
	  FROM pg_catalog.pg_namespace n, pg_catalog.pg_roles r
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'order_system'
	   AND r.rolname OPERATOR(pg_catalog.=) CURRENT_USER;
	SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class
			 WHERE relnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc
			 WHERE pronamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type
			 WHERE typnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
		 OPERATOR(pg_catalog.+)
		   (SELECT pg_catalog.count(*) FROM pg_catalog.pg_operator
			 WHERE oprnamespace OPERATOR(pg_catalog.=) 'order_system'::pg_catalog.regnamespace)
	  INTO objects;
	IF owner_ok IS NOT TRUE OR objects OPERATOR(pg_catalog.<>) 0 THEN
		RAISE EXCEPTION 'schema "order_system" already exists and is not an empty schema owned by %', CURRENT_USER
			USING ERRCODE = '42501',
				  HINT = 'Drop or rename the existing schema, then run CREATE EXTENSION again.';
	END IF;
END
$guard$;

-- Roles are cluster-wide: create them once, grant to them on purpose
-- (90_privileges.sql).  order_system_member is for a member's own login
-- role, linked to the member by set_member_login (10_members.sql);
-- order_system_backup for the login that runs pg_dump (70_row_security.sql);
-- order_system_monitor reads the metrics (87_metrics.sql) and nothing else.
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_admin') THEN
		CREATE ROLE order_system_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_app') THEN
		CREATE ROLE order_system_app NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_gateway') THEN
		CREATE ROLE order_system_gateway NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_member') THEN
		CREATE ROLE order_system_member NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_backup') THEN
		CREATE ROLE order_system_backup NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'order_system_monitor') THEN
		CREATE ROLE order_system_monitor NOLOGIN;
	END IF;
END
$roles$;

-- What only the extension's own code calls: argument checks, consumer
-- locking, the functions CHECK constraints and table guards call.  Plain
-- CREATE: an existing schema of that name is refused.  No role but the
-- owner has USAGE on it; callers reach these functions only from inside
-- the extension's SECURITY DEFINER functions, constraints and triggers.
CREATE SCHEMA order_system_internal;
COMMENT ON SCHEMA order_system_internal IS 'Internals of order_system: called by its functions, constraints and triggers, not by applications.';

---------------------------------------------------------------- domains

-- Single-column rules are domains: the type cache keeps their checks
-- compiled, where a table CHECK is read back from its stored text in
-- every statement that writes the table.
CREATE DOMAIN order_system.amount AS bigint CHECK (VALUE >= 0);
COMMENT ON DOMAIN order_system.amount IS 'A non-negative count: money in minor units, points, stock.';
CREATE DOMAIN order_system.quantity AS bigint CHECK (VALUE > 0);
COMMENT ON DOMAIN order_system.quantity IS 'A positive count of units on an order line.';
CREATE DOMAIN order_system.currency_code AS text CHECK (VALUE ~ '^[A-Z]{3}$');
COMMENT ON DOMAIN order_system.currency_code IS 'An ISO 4217 currency code: three upper-case letters.';
CREATE DOMAIN order_system.order_status AS text
	CHECK (VALUE IN ('pending_payment', 'paid', 'completed', 'cancelled', 'expired', 'refunded'));
COMMENT ON DOMAIN order_system.order_status IS 'An order''s state, one of the states of order_transitions().';
-- (the name payment_status_check was taken by a table constraint when
-- 0.3.0 created this domain on existing installations)
CREATE DOMAIN order_system.payment_status AS text
	CONSTRAINT payment_status_check1
	CHECK (VALUE IN ('pending', 'captured', 'declined', 'voided', 'expired', 'refunded'));
COMMENT ON DOMAIN order_system.payment_status IS 'A payment''s state: pending, then captured, declined, voided, expired or refunded.';
CREATE DOMAIN order_system.ledger_kind AS text CHECK (VALUE IN ('earn', 'spend', 'refund', 'adjust'));
COMMENT ON DOMAIN order_system.ledger_kind IS 'Why a points ledger row moved a balance: earn, spend, refund or adjust.';
CREATE DOMAIN order_system.name_text AS text CHECK (length(VALUE) BETWEEN 1 AND 200);
COMMENT ON DOMAIN order_system.name_text IS 'A member''s or product''s name: 1 to 200 characters.';
CREATE DOMAIN order_system.sku_text AS text CHECK (length(VALUE) BETWEEN 1 AND 64);
COMMENT ON DOMAIN order_system.sku_text IS 'A product''s SKU: 1 to 64 characters.';
CREATE DOMAIN order_system.email_text AS text CHECK (length(VALUE) BETWEEN 3 AND 320);
COMMENT ON DOMAIN order_system.email_text IS 'A member''s e-mail address: 3 to 320 characters.';
CREATE DOMAIN order_system.note_text AS text CHECK (length(VALUE) <= 1000);
COMMENT ON DOMAIN order_system.note_text IS 'A free-text reason or description: at most 1000 characters.';
CREATE DOMAIN order_system.reference_text AS text CHECK (length(VALUE) BETWEEN 1 AND 200);
COMMENT ON DOMAIN order_system.reference_text IS 'A payment reference a participant quotes: 1 to 200 characters.';
CREATE DOMAIN order_system.gateway_ref_text AS text CHECK (length(VALUE) <= 200);
COMMENT ON DOMAIN order_system.gateway_ref_text IS 'The gateway''s own reference for a payment: at most 200 characters.';
CREATE DOMAIN order_system.key_text AS text CHECK (length(VALUE) BETWEEN 1 AND 255);
COMMENT ON DOMAIN order_system.key_text IS 'An idempotency key: 1 to 255 characters.';
CREATE DOMAIN order_system.bucket_count AS smallint CHECK (VALUE BETWEEN 0 AND 64);
COMMENT ON DOMAIN order_system.bucket_count IS 'How many flash-sale buckets a product''s stock is spread over: 0 to 64.';
CREATE DOMAIN order_system.bucket_no AS smallint CHECK (VALUE BETWEEN 0 AND 63);
COMMENT ON DOMAIN order_system.bucket_no IS 'A flash-sale bucket''s number: 0 to 63.';
CREATE DOMAIN order_system.consumer_name AS text
	CONSTRAINT consumer_name_check CHECK (VALUE ~ '^[a-z][a-z0-9_.-]{0,62}$');
COMMENT ON DOMAIN order_system.consumer_name IS 'A consumer''s name: a lower-case letter, then up to 62 of [a-z0-9_.-].';

---------------------------------------------------------------- argument checks

CREATE OR REPLACE FUNCTION order_system_internal.require_arg(value anyelement, name text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL THEN
		RAISE EXCEPTION '% must not be null', name USING ERRCODE = '22004';
	END IF;
END
$$;
COMMENT ON FUNCTION order_system_internal.require_arg(anyelement, text)
	IS 'Raise 22004 naming the argument when value is NULL.';

CREATE OR REPLACE FUNCTION order_system_internal.require_writable(what text)
RETURNS void
AS 'MODULE_PATHNAME', 'os_require_writable_sql'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION order_system_internal.require_writable(text)
	IS 'Raise 25006 naming what, on a standby (and its primary) or in a read-only transaction.';
