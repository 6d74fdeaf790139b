# Sourced by .ci/run: a real Redis for the shared-tier tests of mem-zcache and zcache-service.
#
# redis_start installs redis-server from Debian's packages when it is missing (CI runs as root),
# starts it on a free loopback port with a random password and no persistence of its own (the
# tests that need a restart start their own server from MEMBOUND_TEST_REDIS_SERVER), and exports
#   MEMBOUND_TEST_REDIS_URL=redis://:PASSWORD@127.0.0.1:PORT/0
#   MEMBOUND_TEST_REDIS_SERVER=/path/to/redis-server
# redis_stop stops it and removes its directory. The password goes to the server on its standard
# input, never on a command line. Only 127.0.0.1 is ever used.

redis_pid=""
redis_dir=""

redis_start() {
    if ! command -v redis-server >/dev/null 2>&1; then
        if [ "$(id -u)" != 0 ]; then
            echo "error: redis-server is missing and only root can install it (apt-get install redis-server)" >&2
            return 1
        fi
        echo "-- installing redis-server from Debian's packages"
        # RUNLEVEL=1: the package must not start a system-wide server of its own.
        apt-get update -qq >/dev/null || return 1
        DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq redis-server >/dev/null || return 1
    fi
    local server password port try
    server=$(command -v redis-server)
    redis_dir=$(mktemp -d)
    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    for try in 1 2 3 4 5 6 7 8 9 10; do
        port=$((20000 + RANDOM % 40000))
        printf 'port %s\nbind 127.0.0.1\nprotected-mode yes\nrequirepass %s\nsave ""\nappendonly no\ndir %s\nlogfile %s\ndaemonize no\n' \
            "$port" "$password" "$redis_dir" "$redis_dir/redis.log" | "$server" - >/dev/null &
        redis_pid=$!
        for _ in $(seq 1 50); do
            if ! kill -0 "$redis_pid" 2>/dev/null; then
                break # could not bind: another port
            fi
            if REDISCLI_AUTH="$password" redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
                export MEMBOUND_TEST_REDIS_URL="redis://:$password@127.0.0.1:$port/0"
                export MEMBOUND_TEST_REDIS_SERVER="$server"
                echo "-- redis-server $("$server" --version | awk '{print $3}' | sed s/^v=//) on 127.0.0.1:$port (try $try)"
                return 0
            fi
            sleep 0.1
        done
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    done
    echo "error: could not start redis-server on a loopback port; its log:" >&2
    cat "$redis_dir/redis.log" >&2 || true
    return 1
}

redis_stop() {
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=""
    fi
    if [ -n "$redis_dir" ]; then
        rm -rf "$redis_dir"
        redis_dir=""
    fi
}
