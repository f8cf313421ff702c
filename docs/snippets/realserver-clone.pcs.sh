pcs resource create rs ocf:ocfkit:realserver vipaddrs=/etc/sysconfig/vipaddrs \
    op monitor interval=10s monitor interval=60s OCF_CHECK_LEVEL=10 clone
