/*
 * os_state.c
 *	  The order state machine: one table of (state, event) -> outcome.
 *
 *	  pending_payment --capture--> paid --complete--> completed
 *	  pending_payment --decline/cancel--> cancelled
 *	  pending_payment --expire--> expired
 *	  paid --refund--> refunded
 *
 * Repeating the event that led to a state is a harmless no-op, so that
 * at-least-once participants can retry; anything else is illegal.
 */
#include <string.h>

#include "os_core.h"

typedef enum
{
	T_ILLEGAL = 0,
	T_MOVE,
	T_NOOP
} transition_kind;

typedef struct
{
	transition_kind kind;
	os_state	to;
} transition;

#define MOVE(s) {T_MOVE, (s)}
#define NOOP {T_NOOP, 0}
#define NO {T_ILLEGAL, 0}

/* Rows: from-state; columns: capture, decline, cancel, expire, complete, refund */
static const transition transitions[OS_STATE_COUNT][OS_EVENT_COUNT] = {
	[OS_STATE_PENDING_PAYMENT] = {
		MOVE(OS_STATE_PAID), MOVE(OS_STATE_CANCELLED), MOVE(OS_STATE_CANCELLED),
		MOVE(OS_STATE_EXPIRED), NO, NO
	},
	[OS_STATE_PAID] = {
		NOOP, NO, NO, NO, MOVE(OS_STATE_COMPLETED), MOVE(OS_STATE_REFUNDED)
	},
	[OS_STATE_COMPLETED] = {NO, NO, NO, NO, NOOP, NO},
	[OS_STATE_CANCELLED] = {NO, NOOP, NOOP, NO, NO, NO},
	[OS_STATE_EXPIRED] = {NO, NO, NO, NOOP, NO, NO},
	[OS_STATE_REFUNDED] = {NO, NO, NO, NO, NO, NOOP},
};

static const char *const state_names[OS_STATE_COUNT] = {
	"pending_payment", "paid", "completed", "cancelled", "expired", "refunded"
};

static const char *const event_names[OS_EVENT_COUNT] = {
	"capture", "decline", "cancel", "expire", "complete", "refund"
};

const char *
os_state_name(os_state s)
{
	return ((int) s >= 0 && s < OS_STATE_COUNT) ? state_names[s] : NULL;
}

const char *
os_event_name(os_event e)
{
	return ((int) e >= 0 && e < OS_EVENT_COUNT) ? event_names[e] : NULL;
}

static bool
name_index(const char *const *names, int n, const char *name, int *out)
{
	if (name == NULL)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
		{
			*out = i;
			return true;
		}
	return false;
}

bool
os_state_parse(const char *name, os_state *out)
{
	int			i;

	if (!name_index(state_names, OS_STATE_COUNT, name, &i))
		return false;
	*out = (os_state) i;
	return true;
}

bool
os_event_parse(const char *name, os_event *out)
{
	int			i;

	if (!name_index(event_names, OS_EVENT_COUNT, name, &i))
		return false;
	*out = (os_event) i;
	return true;
}

os_result
os_transition(os_state from, os_event ev, os_state *to)
{
	transition	t;

	if ((int) from < 0 || from >= OS_STATE_COUNT ||
		(int) ev < 0 || ev >= OS_EVENT_COUNT)
		return OS_ERR_ILLEGAL_TRANSITION;
	t = transitions[from][ev];
	if (t.kind == T_MOVE)
	{
		*to = t.to;
		return OS_OK;
	}
	if (t.kind == T_NOOP)
	{
		*to = from;
		return OS_NOOP;
	}
	return OS_ERR_ILLEGAL_TRANSITION;
}

/* Is there any event taking from to to?  (Used by the table guard.) */
bool
os_transition_edge_exists(os_state from, os_state to)
{
	if ((int) from < 0 || from >= OS_STATE_COUNT)
		return false;
	for (int e = 0; e < OS_EVENT_COUNT; e++)
		if (transitions[from][e].kind == T_MOVE && transitions[from][e].to == to)
			return true;
	return false;
}

bool
os_state_is_final(os_state s)
{
	if ((int) s < 0 || s >= OS_STATE_COUNT)
		return false;
	for (int e = 0; e < OS_EVENT_COUNT; e++)
		if (transitions[s][e].kind == T_MOVE)
			return false;
	return true;
}

int
os_allowed_events(os_state s, os_event *out)
{
	int			n = 0;

	if ((int) s < 0 || s >= OS_STATE_COUNT)
		return 0;
	for (int e = 0; e < OS_EVENT_COUNT; e++)
		if (transitions[s][e].kind == T_MOVE)
			out[n++] = (os_event) e;
	return n;
}

/*
 * The next step an application can take when a step is refused: a paid
 * order is not cancelled but refunded; an unpaid one is not completed or
 * refunded but paid or cancelled first.
 */
const char *
os_transition_hint(os_state s, os_event ev)
{
	if (s == OS_STATE_PAID && (ev == OS_EVENT_CANCEL || ev == OS_EVENT_DECLINE))
		return "A paid order is given back with refund_order.";
	if (s == OS_STATE_PENDING_PAYMENT && (ev == OS_EVENT_COMPLETE || ev == OS_EVENT_REFUND))
		return "The order is not paid yet: wait for its payment, or call cancel_order.";
	return NULL;
}

os_counter
os_event_counter(os_event ev, bool *compensates)
{
	static const os_counter counters[OS_EVENT_COUNT] = {
		[OS_EVENT_CAPTURE] = OS_COUNTER_PAID,
		[OS_EVENT_DECLINE] = OS_COUNTER_DECLINED,
		[OS_EVENT_CANCEL] = OS_COUNTER_CANCELLED,
		[OS_EVENT_EXPIRE] = OS_COUNTER_EXPIRED,
		[OS_EVENT_COMPLETE] = OS_COUNTER_COMPLETED,
		[OS_EVENT_REFUND] = OS_COUNTER_REFUNDED,
	};

	*compensates = false;
	if ((int) ev < 0 || ev >= OS_EVENT_COUNT)
		return OS_COUNTER_COUNT;
	/* every move out of pending_payment or paid but forward undoes work */
	*compensates = ev == OS_EVENT_DECLINE || ev == OS_EVENT_CANCEL ||
		ev == OS_EVENT_EXPIRE || ev == OS_EVENT_REFUND;
	return counters[ev];
}
