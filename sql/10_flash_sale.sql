-- Flash-sale mode: set_flash_sale spreads a product's stock over bucket
-- rows; order lines take stock from a bucket; the saga settles it there;
-- gathering moves what is left back.  Stock never oversells and the
-- invariant checker counts buckets.
\set VERBOSITY terse
SELECT regress.restart_ids(100000);
SELECT order_system.create_member('Flash', 'flash@example.com', 100000) AS m \gset
SELECT order_system.create_product('FS-1', 'Flash item', 1000, 'KRW', 10) AS p \gset
SELECT order_system.create_product('FS-2', 'Plain item', 500, 'KRW', 10) AS q \gset
-- Orders pick buckets at random, so after the first listing only sums show.
\set buckets 'SELECT count(*) AS buckets, sum(available) AS available, sum(reserved) AS reserved, sum(sold) AS sold, sum(allotted) AS allotted FROM order_system.stock_bucket WHERE product_id = '
\set product 'SELECT stock_available, stock_reserved, stock_sold, stock_bucketed, flash_buckets FROM order_system.product WHERE id = '

-- 10 units over 3 buckets: 4, 3, 3; the product row keeps none available.
SELECT order_system.set_flash_sale(:p, 3);
SELECT bucket, available, reserved, sold, allotted FROM order_system.stock_bucket
 WHERE product_id = :p ORDER BY bucket;
:product :p;
SELECT stock_available, stock_reserved, stock_sold FROM order_system.get_product(:p);

-- An order takes its line from one bucket; a plain product line beside it
-- still uses the product row.
SELECT order_id AS o1, status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 2}, {"product_id": %s, "quantity": 1}]', :p, :q)::jsonb,
	'card') \gset
SELECT product_id = :p AS flash, bucket IS NOT NULL AS from_bucket, quantity
  FROM order_system.order_line WHERE order_id = :o1 ORDER BY product_id;
SELECT sum(available) AS available, sum(reserved) AS reserved FROM order_system.stock_bucket WHERE product_id = :p;
SELECT stock_available, stock_reserved, stock_sold FROM order_system.get_product(:p);

-- Capture sells from that bucket; a points order is sold at once.
SELECT order_system.confirm_payment(:o1);
SELECT order_id AS o2, status FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'points') \gset
SELECT sum(available) AS available, sum(reserved) AS reserved, sum(sold) AS sold
  FROM order_system.stock_bucket WHERE product_id = :p;
-- A cancel releases into the bucket, a refund returns into it.
SELECT order_id AS o3 FROM order_system.place_order(:m,
	format('[{"product_id": %s, "quantity": 3}]', :p)::jsonb, 'card') \gset
SELECT order_system.cancel_order(:o3), order_system.refund_order(:o2);
SELECT sum(available) AS available, sum(reserved) AS reserved, sum(sold) AS sold
  FROM order_system.stock_bucket WHERE product_id = :p;
SELECT count(*) AS violations FROM order_system.check_invariants();

-- A line must fit in one bucket: 8 available in total, but no bucket holds 5.
:buckets :p;
SELECT regress.counts() AS before \gset
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 5}]', 'card')$$, :m, :p)) AS too_big_for_a_bucket;
SELECT regress.counts() = :'before' AS nothing_written;

-- Gathering: the available stock goes back to the product row; what is
-- sold stays counted in its bucket.  Then the product sells as usual.
SELECT order_system.set_flash_sale(:p, 0);
:buckets :p;
:product :p;
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 5}]', :p)::jsonb, 'card');
SELECT stock_available, stock_reserved, stock_sold FROM order_system.get_product(:p);
-- Spreading again gathers first: 3 left over 2 buckets.
SELECT order_system.set_flash_sale(:p, 2);
:buckets :p;
SELECT count(*) AS violations FROM order_system.check_invariants();

-- Errors.
SELECT regress.try(format('SELECT order_system.set_flash_sale(%s, 65)', :p)) AS too_many,
	   regress.try(format('SELECT order_system.set_flash_sale(%s, -1)', :p)) AS negative,
	   regress.try('SELECT order_system.set_flash_sale(0, 2)') AS unknown_product,
	   regress.try(format('SELECT order_system.set_flash_sale(%s, NULL)', :p)) AS null_buckets;
-- Sold out in every bucket: OS005, nothing oversold.
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 2}]', :p)::jsonb, 'card');
SELECT status FROM order_system.place_order(:m, format('[{"product_id": %s, "quantity": 1}]', :p)::jsonb, 'card');
SELECT regress.try(format($$SELECT order_id FROM order_system.place_order(%s,
	'[{"product_id": %s, "quantity": 1}]', 'card')$$, :m, :p)) AS sold_out;
:buckets :p;
SELECT count(*) AS violations FROM order_system.check_invariants();
