#!/bin/sh
# Runs inside the image's root file system (chroot, arm64 under qemu-user) after Debian's
# packages are installed and image_build/rootfs/ is copied over. build.py puts the wheels in
# /tmp/wheels and the probe's units in /etc/systemd/system before calling it.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
step() { echo "customize: $*"; }

step "the probe's account (no login, no password)"
getent group gpio >/dev/null || addgroup --system gpio
getent passwd roomprobe >/dev/null || adduser --system --group --home /var/lib/roomprobe \
    --no-create-home --shell /usr/sbin/nologin roomprobe
adduser roomprobe audio >/dev/null
adduser roomprobe gpio >/dev/null

step "district IT's account: SSH keys only, no password (locked)"
getent passwd quantri >/dev/null || adduser --disabled-password --gecos "District IT" quantri
adduser quantri sudo >/dev/null
echo "quantri ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/quantri
chmod 0440 /etc/sudoers.d/quantri
install -d -m 0700 -o quantri -g quantri /home/quantri/.ssh
if [ -s /tmp/authorized_keys ]; then
    install -m 0600 -o quantri -g quantri /tmp/authorized_keys /home/quantri/.ssh/authorized_keys
fi
passwd -l root >/dev/null
passwd -l quantri >/dev/null

step "the probe: /opt/roomprobe (Debian's systemd bindings; the rest from wheels)"
python3 -m venv --system-site-packages /opt/roomprobe
/opt/roomprobe/bin/pip install --quiet --no-index --find-links /tmp/wheels --no-cache-dir \
    --disable-pip-version-check "$(ls /tmp/wheels/roomprobe-*.whl)[probe]" "lgpio>=0.2.2"
/opt/roomprobe/bin/roomprobe --version
# On the PATH for district IT (sudo roomprobe doctor, roomprobe outbox).
ln -sf /opt/roomprobe/bin/roomprobe /usr/local/bin/roomprobe
/opt/roomprobe/bin/python -c "import alsaaudio, gpiozero, lgpio, numpy, scipy, systemd.daemon, paho.mqtt"
install -d -m 0755 /etc/roomprobe
install -m 0644 /tmp/roomprobe.example.toml /etc/roomprobe/roomprobe.example.toml

step "what only the build needed goes"
apt-get purge -y -q gcc libc6-dev python3-dev libasound2-dev >/dev/null
apt-get autoremove -y -q --purge >/dev/null

step "the data partition's folders (the partition is made from /data)"
install -d -m 0755 /var/lib/roomprobe /var/log/journal /boot/firmware
install -d -m 0755 /data /data/persist /data/etc-roomprobe
install -d -m 0750 -o roomprobe -g roomprobe /data/roomprobe
install -d -m 2755 -g systemd-journal /data/journal
install -m 0644 /tmp/roomprobe.example.toml /data/etc-roomprobe/roomprobe.example.toml

step "services"
systemctl enable roomprobe.service roomprobe-firstboot.service roomprobe-persist.service \
    roomprobe-growdata.service nftables.service chrony.service ssh.service \
    systemd-networkd.service systemd-resolved.service
# Not for a box nobody logs in to locally: no getty on the screen (the serial one stays).
systemctl mask getty@tty1.service

step "no secret and no identity in the generic image"
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
echo roomprobe > /etc/hostname

step "initramfs and the boot partition (kernel, device trees, config.txt, cmdline.txt)"
update-initramfs -u -k all

apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/*.log /root/.cache
