/*
 * minor_shim.c
 *	  Test only, for test/run's runs on other major versions: lets a module
 *	  built against server headers of a newer minor release load into an
 *	  older server of the same major, by defining the functions those
 *	  headers declare and the older server lacks, with the older release's
 *	  meaning.  Preloaded (shared_preload_libraries), so the module's
 *	  references find them; a server that has them keeps its own (the
 *	  server's symbols come first).  Never for production: build against
 *	  the headers of the server (or of an older minor) instead.
 *
 * PostgreSQL 17.12's headers mark composite datums (HEAP_IS_DATUM) and turn
 * DatumGetHeapTupleHeader() from a macro into a function; heap_getattr()
 * calls heap_datum_check() for a marked, versioned datum.  A 17.10 server
 * has neither function and never marks a datum, so the check is never
 * reached there.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"

PG_MODULE_MAGIC;

#ifdef HEAP_IS_DATUM

PGDLLEXPORT HeapTupleHeader
DatumGetHeapTupleHeader(Datum t)
{
	return (HeapTupleHeader) PG_DETOAST_DATUM(t);
}

PGDLLEXPORT HeapTupleHeader
DatumGetHeapTupleHeaderCopy(Datum t)
{
	return (HeapTupleHeader) PG_DETOAST_DATUM_COPY(t);
}

PGDLLEXPORT void
heap_datum_check(HeapTupleHeader tup, TupleDesc tupleDesc)
{
	/* only a server that marks datums calls it, and that server has it */
	elog(ERROR, "heap_datum_check called on a server without versioned datums");
}

#endif							/* HEAP_IS_DATUM */
