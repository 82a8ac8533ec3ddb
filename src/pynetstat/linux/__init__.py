"""The Linux backend: netlink (sock_diag, rtnetlink), /proc and /sys."""
