pcs resource create lvs-director ocf:heartbeat:IPaddr2 ip=10.0.0.100 cidr_netmask=24 op monitor interval=10s
pcs resource create vipchk ocf:ocfkit:vipcheck vip=10.0.0.100 port=80 \
    real_servers=10.0.0.21,10.0.0.22 interface=eth0 multiplier=100 \
    op monitor interval=10s clone
pcs constraint location lvs-director rule score=-INFINITY vipcheck lt 100 or not_defined vipcheck
