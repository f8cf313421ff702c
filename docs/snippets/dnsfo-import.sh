dns-failover import --tsig-key /etc/bind/dns-failover.key /etc/failover-monitor.config > /etc/dns-failover.toml
chmod 0600 /etc/dns-failover.toml
dns-failover check-config
dns-failover once --dry-run
