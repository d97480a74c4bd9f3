#!/bin/sh
# callflow: FreeSWITCH's configuration, rebuilt at every start of the container as
#   the image's vanilla configuration  +  this overlay (mounted read-only here),
# then the image's own entrypoint runs FreeSWITCH. Nothing under /etc/freeswitch is kept
# between starts (do not mount a volume there): what runs is always what is in git.
#
# Inputs (compose.yaml passes them from docker/.env):
#   FREESWITCH_ESL_PASSWORD  inbound event-socket password: required, >= 16 characters
#                            of [A-Za-z0-9._~-], not the default "ClueCon", not the
#                            .env.example placeholder.
#   FREESWITCH_ESL_ACL       comma-separated CIDRs allowed on the event socket
#                            (default 127.0.0.0/8: fs_cli inside this container only).
#   FREESWITCH_EXTERNAL_IP   public address for SIP/SDP behind Docker's NAT (optional).
#
# Written for the image's busybox sh (safarov/freeswitch is built FROM scratch).
set -eu

# The paths can be overridden only so that tests/deploy can run this script outside
# the image; compose never sets these.
OVERLAY=${FS_ENTRYPOINT_OVERLAY:-/etc/callflow-freeswitch}
VANILLA=${FS_ENTRYPOINT_VANILLA:-/usr/share/freeswitch/conf/vanilla}
CONF=${FS_ENTRYPOINT_CONF:-/etc/freeswitch}
FS_CLI_CONF=${FS_ENTRYPOINT_CLI_CONF:-/etc/fs_cli.conf}
SHARED=${FS_ENTRYPOINT_SHARED:-/var/lib/callflow}
IMAGE_ENTRYPOINT=${FS_ENTRYPOINT_IMAGE_ENTRYPOINT:-/docker-entrypoint.sh}

die() { echo "callflow-freeswitch: $*" >&2; exit 1; }

# -- secrets and inputs, checked before anything starts -------------------------------
pw="${FREESWITCH_ESL_PASSWORD:-}"
[ -n "$pw" ] || die "FREESWITCH_ESL_PASSWORD is not set (copy docker/.env.example to docker/.env)"
case "$pw" in
  ClueCon) die "FREESWITCH_ESL_PASSWORD must not be FreeSWITCH's default" ;;
  replace-*) die "FREESWITCH_ESL_PASSWORD is still the .env.example placeholder" ;;
  *[!A-Za-z0-9._~-]*) die "FREESWITCH_ESL_PASSWORD: use only letters, digits and ._~-" ;;
esac
[ "${#pw}" -ge 16 ] || die "FREESWITCH_ESL_PASSWORD: at least 16 characters"
case "${FREESWITCH_ESL_ACL:-127.0.0.0/8}" in
  *[!0-9A-Fa-f.:/,]*) die "FREESWITCH_ESL_ACL: comma-separated CIDRs only" ;;
esac
case "${FREESWITCH_EXTERNAL_IP:-}" in
  *[!0-9A-Fa-f.:]*) die "FREESWITCH_EXTERNAL_IP: an IP address" ;;
esac
# env-set in vars.xml only sets a variable that exists: an empty one would blank
# external_rtp_ip/external_sip_ip, so leave it out and keep vanilla's STUN guess.
[ -n "${FREESWITCH_EXTERNAL_IP:-}" ] || unset FREESWITCH_EXTERNAL_IP

[ -f "$VANILLA/freeswitch.xml" ] || die "no vanilla configuration at $VANILLA (is this the pinned image?)"

# -- configuration ------------------------------------------------------------------------
rm -rf "$CONF"
mkdir -p "$CONF"
cp -a "$VANILLA/." "$CONF/"

# Our module list, core limits and event socket replace vanilla's.
cp "$OVERLAY/autoload_configs/modules.conf.xml" \
   "$OVERLAY/autoload_configs/switch.conf.xml" \
   "$OVERLAY/autoload_configs/event_socket.conf.xml" "$CONF/autoload_configs/"

# The public context (where the carrier's calls land) holds callflow only: vanilla's
# public.xml transfers some numbers to the default context, and public/ has an example DID.
cp "$OVERLAY/dialplan/public.xml" "$CONF/dialplan/public.xml"
rm -rf "$CONF/dialplan/public"

# No phones register here: drop the internal SIP profiles (5060, directory users with
# vanilla's default password) and the IPv6 external one. The carrier comes in on the
# external profile (5080, context public).
rm -f "$CONF/sip_profiles/internal.xml" "$CONF/sip_profiles/internal-ipv6.xml" \
      "$CONF/sip_profiles/external-ipv6.xml"
if ls "$OVERLAY/sip_profiles/external/"*.xml >/dev/null 2>&1; then
  cp "$OVERLAY/sip_profiles/external/"*.xml "$CONF/sip_profiles/external/"
fi

# vars.xml: vanilla's, with a random default_password (the image's entrypoint does the
# same on a first start), then ours included last so that our values win.
sip_pw=$(head -c 512 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 24)
[ "${#sip_pw}" -eq 24 ] || die "could not generate a random SIP password"
grep -v '</include>' "$VANILLA/vars.xml" \
  | sed -e "s/default_password=[^\"]*/default_password=$sip_pw/" > "$CONF/vars.xml"
printf '  <X-PRE-PROCESS cmd="include" data="%s/vars.xml"/>\n</include>\n' "$OVERLAY" >> "$CONF/vars.xml"
grep -q "default_password=$sip_pw" "$CONF/vars.xml" || die "vars.xml: default_password not replaced"

# fs_cli (operators, and the healthcheck) reads the password from this root-only file,
# so it never appears on a command line.
umask 077
printf '[default]\nhost => 127.0.0.1\nport => 8021\npassword => %s\n' "$pw" > "$FS_CLI_CONF"
umask 022

# The shared folders (same paths in the engines). The engines create the dated
# subfolders; FreeSWITCH (root in this image) writes the files.
mkdir -p "$SHARED/media" "$SHARED/recordings" "$SHARED/voicemail"

echo "callflow-freeswitch: configuration ready (vanilla + $OVERLAY); starting FreeSWITCH" >&2
exec "$IMAGE_ENTRYPOINT" "$@"
