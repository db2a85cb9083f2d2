#!/bin/sh
# nginx.sh - run nginx as the current user for the HTTP tests.
#   nginx.sh start DIR ROOT   start it serving ROOT; prints the port
#   nginx.sh stop DIR         stop it
# Everything nginx writes (pid, logs, temp files) goes under DIR.
here=$(cd "$(dirname "$0")" && pwd)
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
case $1 in
start)
	dir=$2 root=$3
	mkdir -p "$dir/tmp" || exit 2
	for try in 1 2 3 4 5; do
		port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')
		sed -e "s|@DIR@|$dir|g" -e "s|@ROOT@|$root|g" -e "s|@PORT@|$port|g" -e "s|@USER@|$(id -un)|g" -e "s|@GROUP@|$(id -gn)|g" \
		    "$here/nginx.conf.in" > "$dir/nginx.conf"
		rm -f "$dir/nginx.pid"
		"$NGINX" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" < /dev/null > /dev/null 2>> "$dir/error.log" &
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			if [ -s "$dir/nginx.pid" ] && perl -MIO::Socket::INET -e \
			    'exit !IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0])' "$port"; then
				echo "$port"
				exit 0
			fi
			kill -0 $! 2> /dev/null || break
			sleep 0.1
		done
		kill $! 2> /dev/null
	done
	exit 1 ;;
stop)
	[ -s "$2/nginx.pid" ] && kill "$(cat "$2/nginx.pid")" 2> /dev/null
	exit 0 ;;
*)
	echo "usage: nginx.sh start DIR ROOT | stop DIR" >&2
	exit 2 ;;
esac
