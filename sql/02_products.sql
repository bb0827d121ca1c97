-- Products and stock: create_product, get_product, set_price, restock,
-- deactivate_product; their events and domain errors (NULLs and extreme
-- inputs are in 06_bad_input).
\set VERBOSITY terse
SELECT regress.restart_ids(20000);

-- create_product(sku, name, price, currency = KRW, initial_stock = 0)
SELECT order_system.create_product('TEA-1', 'Green tea', 4500) AS tea \gset
SELECT order_system.create_product('MUG-1', 'Mug ☕', 12000, 'KRW', 10) AS mug \gset
SELECT order_system.create_product('USB-1', 'USB cable', 999, 'USD', 5) AS usb \gset
SELECT p.* FROM (VALUES (:tea), (:mug), (:usb)) v(id), order_system.get_product(v.id) p ORDER BY p.id;
SELECT count(*) FROM order_system.get_product(999999);
SELECT event_type, aggregate, payload FROM regress.events(20000);

SELECT regress.counts() AS before \gset
SELECT regress.try($$SELECT order_system.create_product('TEA-1', 'Other tea', 1)$$) AS duplicate_sku;
SELECT regress.try($$SELECT order_system.create_product('', 'No sku', 1)$$) AS empty_sku;
SELECT regress.try($$SELECT order_system.create_product('X-1', '', 1)$$) AS empty_name;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', -1)$$) AS negative_price;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'krw')$$) AS lower_case_currency;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'KR')$$) AS short_currency;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'K1W')$$) AS digit_in_currency;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'KRWX')$$) AS long_currency;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'KRW', -1)$$) AS negative_stock;
SELECT regress.try($$SELECT order_system.create_product('X-1', 'X', 1, 'KRW', 1000000001)$$) AS too_much_stock;
SELECT regress.counts() = :'before' AS nothing_written;
-- A free product and the largest initial stock are fine.
SELECT order_system.create_product('FREE-1', 'Sticker', 0, 'KRW', 1000000000) AS sticker \gset
SELECT sku, price, stock_available FROM order_system.get_product(:sticker);

-- set_price returns the new price; zero is a valid price.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_system.set_price(:tea, 5000);
SELECT order_system.set_price(:tea, 0);
SELECT order_system.set_price(:tea, 4800);
SELECT price FROM order_system.get_product(:tea);
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT regress.counts() AS before \gset
SELECT regress.try(format('SELECT order_system.set_price(%s, -1)', :tea)) AS negative_price;
SELECT regress.try('SELECT order_system.set_price(999999, 100)') AS unknown_product;
SELECT regress.counts() = :'before' AS nothing_written;
SELECT price FROM order_system.get_product(:tea);

-- restock returns the stock available afterwards; received grows with it.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_system.restock(:tea, 20);
SELECT order_system.restock(:tea, 5);
SELECT order_system.restock(:mug, 1000000000);
SELECT sku, stock_available, stock_reserved, stock_sold, stock_received
  FROM order_system.product WHERE sku IN ('TEA-1', 'MUG-1') ORDER BY sku;
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT regress.counts() AS before \gset
SELECT regress.try(format('SELECT order_system.restock(%s, 0)', :tea)) AS zero;
SELECT regress.try(format('SELECT order_system.restock(%s, -5)', :tea)) AS negative;
SELECT regress.try(format('SELECT order_system.restock(%s, 1000000001)', :tea)) AS too_many;
SELECT regress.try('SELECT order_system.restock(999999, 1)') AS unknown_product;
SELECT regress.counts() = :'before' AS nothing_written;

-- deactivate_product: true the first time, false (and no event) after.
SELECT max(id) AS ev FROM order_system.outbox \gset
SELECT order_system.deactivate_product(:usb);
SELECT order_system.deactivate_product(:usb);
SELECT sku, active FROM order_system.get_product(:usb);
SELECT event_type, aggregate, payload FROM regress.events(:ev);
SELECT regress.try('SELECT order_system.deactivate_product(999999)') AS unknown_product;
SELECT count(*) AS events_written FROM order_system.outbox WHERE id > :ev;

SELECT * FROM order_system.check_invariants();
