# order_system: PGXS build of the extension.
#
#   make && make install        build and install into $(pg_config --pkglibdir)
#   make installcheck           pg_regress + isolation specs against a running server
#   make regresscheck           pg_regress only (sql/, expected/) against a running server
#   make isolationcheck         isolation specs only (test/isolation/) against a running server
#   make pgtap_installcheck     pgTAP (test/pgtap/) in a fresh database PGTAP_DATABASE
#                               (default order_system_tap) of a running server with pgtap
#   make prove_installcheck     TAP tests (test/tap/): each starts its own clusters from the
#                               installed server; run as a non-root user who can run initdb
#   make core-test              the pure-C core's unit test; no server needed
#   test/run                    every test on a throwaway cluster (see README)
#
# The server the installcheck targets use is the one PGHOST, PGPORT and
# PGDATABASE name; PROVE_FLAGS (e.g. --verbose) go to prove and pg_prove.

EXTENSION = order_system
# The version being built: the control file's default_version (src/store/spi.c's
# OS_LIBRARY_VERSION must say the same).
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'$$/\1/p" order_system.control)
MODULE_big = order_system

# SQL: src/sql/NN_area.sql hold the current definition of every object, in
# load order; the install script of EXTVERSION is made of them.  The update
# from the previous release is src/sql/updates/PREV--EXTVERSION.sql (what
# changes stored data, types or tables, or moves objects) followed by the
# current definition of every function and every comment, taken from the
# same files.  Released scripts are kept as they were, in src/sql/released/.
SQL_SRC = $(sort $(wildcard $(srcdir)/src/sql/[0-9][0-9]_*.sql))
SQL_RELEASED = order_system--0.1.0.sql order_system--0.1.0--0.2.0.sql \
	order_system--0.2.0--0.3.0.sql order_system--0.3.0--0.4.0.sql \
	order_system--0.4.0--0.5.0.sql order_system--0.5.0--0.6.0.sql \
	order_system--0.6.0--0.7.0.sql
DATA = $(addprefix src/sql/released/, $(SQL_RELEASED))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--0.7.0--$(EXTVERSION).sql
EXTRA_CLEAN = $(addsuffix .tmp, $(DATA_built))
PGFILEDESC = "order_system - orders, stock, points and payments inside PostgreSQL"

CORE_OBJS = src/core/os_errors.o src/core/os_money.o src/core/os_payment.o \
	src/core/os_rate.o src/core/os_rules.o src/core/os_state.o src/core/os_stock.o
# The store: the only code that reads or writes the extension's tables.
STORE_OBJS = src/store/store.o src/store/spi.o src/store/rows.o src/store/events.o \
	src/store/buckets.o src/store/members.o src/store/products.o src/store/orders.o \
	src/store/payments.o src/store/consumers.o src/store/saga.o \
	src/store/outbox.o src/store/metrics.o
# The SQL-callable functions, by area; each enters through os_enter().
API_OBJS = src/api/access.o src/api/catalog.o src/api/consumers.o src/api/errors.o \
	src/api/members.o src/api/metrics.o src/api/orders.o src/api/payments.o src/api/products.o \
	src/api/rules.o src/api/saga.o src/api/triggers.o
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
$(OBJS): src/core/os_core.h src/order_system.h src/store/store.h src/compat.h

# The install script: a header, then the current schema files in order.
$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SRC) Makefile
	{ printf '%s\n' \
		'/* $@: generated from src/sql/ by make; edit those files. */' '' \
		'-- complain if script is sourced in psql, rather than via CREATE EXTENSION' \
		'\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit' '' \
		'-- Resolve nothing through the caller'"'"'s search_path while installing.' \
		'SET LOCAL search_path TO pg_catalog, pg_temp;' ''; \
	  for f in $(SQL_SRC); do printf '%s\n' "-- $${f#$(srcdir)/}" ''; cat "$$f"; echo; done; } > $@.tmp
	mv $@.tmp $@

# An update script: a header, the hand-written part, then the current
# definition of every function and comment (CREATE OR REPLACE FUNCTION,
# which PostgreSQL refuses for a function that is not the extension's own),
# then the hand-written part that needs those functions (grants on new
# ones), src/sql/updates/PREV--EXTVERSION.after.sql, if there is one.
$(EXTENSION)--%--$(EXTVERSION).sql: $(srcdir)/src/sql/updates/%--$(EXTVERSION).sql $(SQL_SRC) \
		$(wildcard $(srcdir)/src/sql/updates/*--$(EXTVERSION).after.sql) \
		$(srcdir)/src/sql/definitions.awk Makefile
	{ printf '%s\n' \
		'/* $@: generated from src/sql/ by make; edit those files. */' '' \
		'-- complain if script is sourced in psql, rather than via ALTER EXTENSION' \
		'\echo Use "ALTER EXTENSION $(EXTENSION) UPDATE TO '"'"'$(EXTVERSION)'"'"'" to load this file. \quit' '' \
		'SET LOCAL search_path TO pg_catalog, pg_temp;' '' \
		'-- src/sql/updates/$*--$(EXTVERSION).sql' ''; \
	  cat $<; \
	  printf '\n%s\n\n' '-- the current definitions of every function and comment (src/sql/*.sql)'; \
	  awk -f $(srcdir)/src/sql/definitions.awk $(SQL_SRC) && \
	  if [ -f $(srcdir)/src/sql/updates/$*--$(EXTVERSION).after.sql ]; then \
		printf '%s\n\n' '-- src/sql/updates/$*--$(EXTVERSION).after.sql'; \
		cat $(srcdir)/src/sql/updates/$*--$(EXTVERSION).after.sql; fi; } > $@.tmp
	mv $@.tmp $@

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

# Each test layer on its own, against the installed extension and (except
# TAP) the running server that PGHOST, PGPORT and PGDATABASE name.
.PHONY: regresscheck isolationcheck pgtap_installcheck prove_installcheck

regresscheck:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

isolationcheck:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# pgTAP needs the pgtap extension installed in the same server.
PGTAP_DATABASE ?= order_system_tap
pgtap_installcheck:
	$(bindir)/psql -X -q -v ON_ERROR_STOP=1 -c 'SET client_min_messages = warning' \
		-c 'DROP DATABASE IF EXISTS $(PGTAP_DATABASE)' \
		-c 'CREATE DATABASE $(PGTAP_DATABASE)'
	$(bindir)/psql -X -q -v ON_ERROR_STOP=1 -d $(PGTAP_DATABASE) \
		-c 'CREATE EXTENSION order_system' -c 'CREATE EXTENSION pgtap'
	PATH="$(bindir):$$PATH" pg_prove $(PROVE_FLAGS) -d $(PGTAP_DATABASE) test/pgtap/*.sql

# The TAP tests start their own clusters with PostgreSQL::Test::Cluster
# (from the server's test/perl, with OrderSystem::TestCluster from
# test/perl), so they run as a user that can run initdb, not root.  Their
# logs go to $(TAP_TESTDIR)/tmp_check/log.  PROVE_FLAGS (e.g. --verbose)
# and PROVE_TESTS (e.g. test/tap/002_delivery_sql.pl) as for PGXS's TAP_TESTS.
TAP_TESTDIR ?= $(CURDIR)/tmp_check/tap
prove_installcheck:
	@if [ "$$(id -u)" -eq 0 ]; then \
		echo "prove_installcheck: initdb refuses to run as root; run it as the clusters' owner (test/run does)" >&2; \
		exit 1; \
	fi
	rm -rf '$(TAP_TESTDIR)'/tmp_check
	$(MKDIR_P) '$(TAP_TESTDIR)'/tmp_check
	cd $(srcdir) && \
	   TESTDIR='$(TAP_TESTDIR)' PATH="$(bindir):$$PATH" \
	   PG_REGRESS='$(top_builddir)/src/test/regress/pg_regress' \
	   $(or $(PROVE),prove) $(PG_PROVE_FLAGS) -I $(srcdir)/test/perl $(PROVE_FLAGS) \
	   $(if $(PROVE_TESTS),$(PROVE_TESTS),test/tap/*.pl)
