pcs resource create FailoverIP ocf:heartbeat:IPaddr2 ip=192.0.2.10 cidr_netmask=24 op monitor interval=5s
pcs resource create SOCKDfailover ocf:dante:sockd \
    sockd=/usr/sbin/danted sockd_config=/etc/danted.conf sockd_pidfile=/run/danted.pid \
    op monitor interval=5s op monitor interval=10s OCF_CHECK_LEVEL=20
pcs resource group add SOCKD_failover FailoverIP SOCKDfailover
