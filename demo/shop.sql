-- A small shop for the demo: the extension, three members, four products.
CREATE EXTENSION order_system;

SELECT order_system.create_member('Kim Minji', 'minji@example.com', 5000) AS minji \gset
SELECT order_system.create_member('Lee Joon', 'joon@example.com') AS joon \gset
SELECT order_system.create_member('Park Sora', 'sora@example.com', 1200) AS sora \gset

SELECT order_system.create_product('KB-01', 'Mechanical keyboard', 89000, 'KRW', 20) AS keyboard \gset
SELECT order_system.create_product('MS-01', 'Wireless mouse', 25000, 'KRW', 50) AS mouse \gset
SELECT order_system.create_product('PAD-01', 'Desk pad', 3000, 'KRW', 100) AS pad \gset
SELECT order_system.create_product('MON-27', '27" monitor', 320000, 'KRW', 1) AS monitor \gset
