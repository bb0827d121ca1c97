---------------------------------------------------------------- products

CREATE SEQUENCE order_system.product_id_seq;
CREATE TABLE order_system.product (
	id bigint PRIMARY KEY DEFAULT pg_catalog.nextval('order_system.product_id_seq'),
	sku order_system.sku_text NOT NULL UNIQUE,
	name order_system.name_text NOT NULL,
	price order_system.amount NOT NULL,
	currency order_system.currency_code NOT NULL,
	active boolean NOT NULL DEFAULT true,
	stock_available order_system.amount NOT NULL DEFAULT 0,
	stock_reserved order_system.amount NOT NULL DEFAULT 0,
	stock_sold order_system.amount NOT NULL DEFAULT 0,
	stock_received order_system.amount NOT NULL DEFAULT 0,
	created_at timestamptz NOT NULL DEFAULT now(),
	flash_buckets order_system.bucket_count NOT NULL DEFAULT 0,
	stock_bucketed order_system.amount NOT NULL DEFAULT 0
);
ALTER SEQUENCE order_system.product_id_seq OWNED BY order_system.product.id;
COMMENT ON TABLE order_system.product IS 'Products; stock held by unpaid orders is reserved, sold once paid; available + reserved + sold = received.';
COMMENT ON COLUMN order_system.product.stock_bucketed IS 'Stock handed to flash-sale buckets (order_system.stock_bucket), counted there.';
SELECT pg_catalog.pg_extension_config_dump('order_system.product', '');
SELECT pg_catalog.pg_extension_config_dump('order_system.product_id_seq', '');

---------------------------------------------------------------- flash-sale stock buckets

-- A flash-sale product's available stock is spread over bucket rows that
-- orders lock independently (src/store/buckets.c).  The one foreign key
-- left: nothing on the hot path inserts buckets.
CREATE TABLE order_system.stock_bucket (
	product_id bigint NOT NULL REFERENCES order_system.product (id),
	bucket order_system.bucket_no NOT NULL,
	available order_system.amount NOT NULL DEFAULT 0,
	reserved order_system.amount NOT NULL DEFAULT 0,
	sold order_system.amount NOT NULL DEFAULT 0,
	allotted bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (product_id, bucket)
);
COMMENT ON TABLE order_system.stock_bucket IS 'A flash-sale product''s stock, spread over rows that orders lock independently.';
SELECT pg_catalog.pg_extension_config_dump('order_system.stock_bucket', '');

---------------------------------------------------------------- stock rules

-- The sums take the whole row (src/api/rules.c): a call with one argument
-- is a fifth of the text of the sum, which PostgreSQL reads back in every
-- statement that writes the table.
CREATE OR REPLACE FUNCTION order_system_internal.stock_adds_up(product order_system.product)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_stock_adds_up';
COMMENT ON FUNCTION order_system_internal.stock_adds_up(order_system.product)
	IS 'CHECK rule product_stock_adds_up: available + reserved + sold + bucketed = received.';

CREATE OR REPLACE FUNCTION order_system_internal.bucket_adds_up(bucket order_system.stock_bucket)
RETURNS boolean LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'os_bucket_adds_up';
COMMENT ON FUNCTION order_system_internal.bucket_adds_up(order_system.stock_bucket)
	IS 'CHECK rule stock_bucket_adds_up: available + reserved + sold = allotted.';

ALTER TABLE order_system.product
	ADD CONSTRAINT product_stock_adds_up CHECK (order_system_internal.stock_adds_up(product));
ALTER TABLE order_system.stock_bucket
	ADD CONSTRAINT stock_bucket_adds_up CHECK (order_system_internal.bucket_adds_up(stock_bucket));

---------------------------------------------------------------- functions

CREATE OR REPLACE FUNCTION order_system.create_product(sku text, name text, price bigint,
													  currency text DEFAULT 'KRW',
													  initial_stock bigint DEFAULT 0)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_create_product'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.create_product(text, text, bigint, text, bigint)
	IS 'Create a product with a price and an initial stock; returns its id.';

CREATE OR REPLACE FUNCTION order_system.set_price(product_id bigint, price bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_set_price'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.set_price(bigint, bigint)
	IS 'Set a product''s price for orders placed from now on; returns the new price.';

CREATE OR REPLACE FUNCTION order_system.restock(product_id bigint, quantity bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'os_restock'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.restock(bigint, bigint)
	IS 'Receive quantity more units of a product; returns its available stock.';

CREATE OR REPLACE FUNCTION order_system.deactivate_product(product_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'os_deactivate_product'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION order_system.deactivate_product(bigint)
	IS 'Take a product off sale; true if it was active.';

-- A flash-sale product's stock counts its buckets too.
CREATE OR REPLACE FUNCTION order_system.get_product(product_id bigint)
RETURNS TABLE (id bigint, sku text, name text, price bigint, currency text, active boolean,
			   stock_available bigint, stock_reserved bigint, stock_sold bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT p.id, p.sku, p.name, p.price, p.currency, p.active,
		   p.stock_available + coalesce(b.available, 0), p.stock_reserved + coalesce(b.reserved, 0),
		   p.stock_sold + coalesce(b.sold, 0)
	  FROM order_system.product p
	  LEFT JOIN (SELECT s.product_id, sum(s.available) AS available, sum(s.reserved) AS reserved,
						sum(s.sold) AS sold
				   FROM order_system.stock_bucket s GROUP BY s.product_id) b ON b.product_id = p.id
	 WHERE p.id = get_product.product_id;
END;
COMMENT ON FUNCTION order_system.get_product(bigint)
	IS 'A product with its stock, flash-sale buckets included.';

-- set_flash_sale(product_id, buckets): spread the product's available stock
-- over that many bucket rows (1 to 64), or gather it back (0).  Stock
-- reserved or sold from buckets stays there until the saga settles it.
-- Returns the available stock now held in buckets.
CREATE OR REPLACE FUNCTION order_system.set_flash_sale(product_id bigint, buckets integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	total bigint;
	gathered bigint;
BEGIN
	PERFORM order_system_internal.require_writable('set_flash_sale');
	PERFORM order_system_internal.require_arg(product_id, 'product_id');
	PERFORM order_system_internal.require_arg(buckets, 'buckets');
	IF buckets NOT BETWEEN 0 AND 64 THEN
		RAISE EXCEPTION 'buckets must be between 0 and 64' USING ERRCODE = '22023';
	END IF;
	-- the product row, then its buckets: the order every other locker follows
	SELECT p.stock_available INTO total FROM order_system.product p
	 WHERE p.id = set_flash_sale.product_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'product % not found', set_flash_sale.product_id USING ERRCODE = 'OS003';
	END IF;
	PERFORM 1 FROM order_system.stock_bucket b WHERE b.product_id = set_flash_sale.product_id
	 ORDER BY b.bucket FOR NO KEY UPDATE;
	SELECT coalesce(sum(b.available), 0) INTO gathered FROM order_system.stock_bucket b
	 WHERE b.product_id = set_flash_sale.product_id;
	UPDATE order_system.stock_bucket b SET allotted = b.allotted - b.available, available = 0
	 WHERE b.product_id = set_flash_sale.product_id AND b.available > 0;
	total := total + gathered;
	IF buckets > 0 THEN
		INSERT INTO order_system.stock_bucket (product_id, bucket)
		SELECT set_flash_sale.product_id, g FROM generate_series(0, buckets - 1) g
		ON CONFLICT ON CONSTRAINT stock_bucket_pkey DO NOTHING;
		UPDATE order_system.stock_bucket b
		   SET available = total / buckets + CASE WHEN b.bucket < total % buckets THEN 1 ELSE 0 END,
			   allotted = b.allotted + total / buckets + CASE WHEN b.bucket < total % buckets THEN 1 ELSE 0 END
		 WHERE b.product_id = set_flash_sale.product_id AND b.bucket < buckets;
	END IF;
	UPDATE order_system.product p
	   SET flash_buckets = buckets,
		   stock_available = CASE WHEN buckets > 0 THEN 0 ELSE total END,
		   stock_bucketed = p.stock_bucketed - gathered + CASE WHEN buckets > 0 THEN total ELSE 0 END
	 WHERE p.id = set_flash_sale.product_id;
	RETURN CASE WHEN buckets > 0 THEN total ELSE 0 END;
END
$$;
COMMENT ON FUNCTION order_system.set_flash_sale(bigint, integer)
	IS 'Spread a product''s available stock over 1 to 64 bucket rows, or gather it back (0).';
