pcs resource create vipchk ocf:ocfkit:vipcheck vip=10.0.0.100 port=443 check=https \
    http_host=www.example.com http_path=/healthcheck http_expect_headers="X-Health: ok" \
    real_servers=10.0.0.21,10.0.0.22 interface=eth0 multiplier=100 op monitor interval=10s clone
