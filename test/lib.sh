# Shared shell helpers of test/run and demo/run: packages, build, a
# throwaway PostgreSQL cluster run as a non-root user.  Source, don't run.

OS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OS_PACKAGES="build-essential postgresql-15 postgresql-client-15 postgresql-server-dev-15 \
postgresql-15-pgtap libpq-dev libtap-parser-sourcehandler-pgtap-perl libipc-run-perl"

os_log() { printf '\n== %s\n' "$*" >&2; }
os_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install the Debian packages we need when root; otherwise name what is missing.
os_ensure_packages() {
	local missing=() p
	for p in $OS_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -eq 0 ]; then
		os_log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	else
		os_die "missing Debian packages: ${missing[*]}
  install them with: sudo apt-get install ${missing[*]}"
	fi
}

# Debian's prometheus-postgres-exporter, which the monitoring TAP test
# (test/tap/012_metrics.pl) runs against a test cluster: installed when
# root; otherwise that test skips its exporter part.
os_ensure_exporter() {
	command -v prometheus-postgres-exporter >/dev/null && return 0
	if [ "$(id -u)" -eq 0 ]; then
		os_log "installing prometheus-postgres-exporter"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q >/dev/null
		apt-get install -y -q --no-install-recommends prometheus-postgres-exporter >/dev/null ||
			echo "warning: could not install prometheus-postgres-exporter" >&2
	else
		echo "note: prometheus-postgres-exporter is not installed: 012_metrics.pl skips the exporter" >&2
	fi
	return 0
}

OS_PGBIN=${OS_PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$OS_PGBIN:$PATH"
export PG_CONFIG="$OS_PGBIN/pg_config"
OS_PGXS_SRC=$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")

# Build (warnings are errors) and install the extension.
os_build_install() {
	os_log "building order_system"
	make -C "$OS_ROOT" -s OS_WERROR=-Werror PG_CONFIG="$PG_CONFIG" >/dev/null
	local dest
	dest="$("$PG_CONFIG" --sharedir)/extension"
	if [ -w "$dest" ]; then
		make -C "$OS_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo make -C "$OS_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	else
		os_die "cannot write $dest: run as root (or with passwordless sudo) to install the extension"
	fi
}

# Run a command as the cluster's owner: postgres when we are root.
os_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# os_start_cluster DIR PORT: initdb in DIR (wiped first), start, export PG*.
os_start_cluster() {
	local dir=$1 port=$2
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$dir"
		chown postgres: "$dir"
		if ! runuser -u postgres -- test -w "$dir"; then
			dir=$(mktemp -d /tmp/order_system.XXXXXX)
			chown postgres: "$dir"
		fi
	fi
	OS_CLUSTER=$dir
	os_stop_cluster quiet
	os_as_owner rm -rf "$dir/data"
	os_as_owner mkdir -p "$dir/data" "$dir/sock"
	os_log "starting a throwaway cluster in $dir/data (port $port)"
	os_as_owner initdb -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; os_die "initdb failed"; }
	cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir/sock'
fsync = off
max_prepared_transactions = 10
log_min_messages = warning
CONF
	os_as_owner pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
		{ cat "$dir/server.log"; os_die "the server did not start"; }
	export PGHOST="$dir/sock" PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

os_stop_cluster() {
	[ -n "${OS_CLUSTER:-}" ] && [ -f "$OS_CLUSTER/data/postmaster.pid" ] || return 0
	os_as_owner pg_ctl -D "$OS_CLUSTER/data" -m fast -w stop >/dev/null 2>&1 ||
		[ "${1:-}" = quiet ] || echo "warning: could not stop the cluster" >&2
}
