# order_system: PGXS build of the extension.
#
#   make && make install        build and install into $(pg_config --pkglibdir)
#   make installcheck           pg_regress + isolation specs against a running server
#   test/run                    every test on a throwaway cluster (see README)

EXTENSION = order_system
MODULE_big = order_system
DATA = order_system--0.1.0.sql order_system--0.1.0--0.2.0.sql order_system--0.2.0--0.3.0.sql \
	order_system--0.3.0--0.4.0.sql order_system--0.4.0--0.5.0.sql \
	order_system--0.5.0--0.6.0.sql order_system--0.6.0--0.7.0.sql
PGFILEDESC = "order_system - orders, stock, points and payments inside PostgreSQL"

CORE_OBJS = src/core/os_errors.o src/core/os_money.o src/core/os_payment.o \
	src/core/os_rate.o src/core/os_rules.o src/core/os_state.o
# The store: the only code that reads or writes the extension's tables.
STORE_OBJS = src/store/spi.o src/store/rows.o src/store/events.o src/store/buckets.o
# The SQL-callable functions, by area; each enters through os_enter().
API_OBJS = src/api/access.o src/api/catalog.o src/api/consumers.o src/api/members.o \
	src/api/orders.o src/api/payments.o src/api/products.o src/api/rules.o \
	src/api/saga.o src/api/triggers.o
OBJS = $(CORE_OBJS) $(STORE_OBJS) $(API_OBJS) src/order_system.o src/notifier.o src/compat.o

PG_CPPFLAGS = -I$(srcdir)/src
# -Wno-unused-parameter: the server headers (ilist.h, bufpage.h) trip it.
PG_CFLAGS = -Wextra -Wno-unused-parameter $(OS_WERROR)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=order_system

ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=order_system

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on both headers.
$(OBJS): src/core/os_core.h src/order_system.h src/compat.h

# The standalone test of the pure-C core (no server needed).
.PHONY: core-test
core-test:
	$(MAKE) -C test/core PG_CONFIG=$(PG_CONFIG)

# The event listener programs (listener/, plain libpq) build, install and
# clean with the extension.
.PHONY: listener install-listener clean-listener
all: listener
install: install-listener
clean: clean-listener

listener:
	$(MAKE) -C listener PG_CONFIG=$(PG_CONFIG)

install-listener: listener
	$(MAKE) -C listener install PG_CONFIG=$(PG_CONFIG)

clean-listener:
	$(MAKE) -C listener clean PG_CONFIG=$(PG_CONFIG)
