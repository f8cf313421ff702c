tsig-keygen -a hmac-sha256 dns-failover > /etc/bind/dns-failover.key
chown root:bind /etc/bind/dns-failover.key
chmod 0640 /etc/bind/dns-failover.key
