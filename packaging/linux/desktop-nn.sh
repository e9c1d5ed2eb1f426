#!/bin/sh
# Launcher installed as /usr/bin/desktop-nn by the .deb
exec /opt/desktop-nn/desktop-nn "$@"
