#!/bin/sh
exec /usr/sbin/ocf-vipcheck tcp --exit-style relayd -t 150 eth0 "$1" 10.0.0.100 80
