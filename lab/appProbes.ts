/**
 * Probes that behave as an app can, run inside the routed pod's app container (perl-base, which
 * every Debian userland has, so the lab needs no compiler): a socket bound to a device with
 * SO_BINDTODEVICE, and a raw Ethernet frame sent through an AF_PACKET socket. Each prints one
 * line saying what happened and exits 0 only when the kernel let it send. Pure text, written into
 * the lab's app image by lab/world.ts.
 */

/** Where the lab's app image holds the probes. */
export const APP_PROBE_DIR = "/usr/lib/charmarr-lab";

/**
 * `bound.pl DEVICE HOST PORT UDP_PORT`: what qBittorrent's "Network interface" setting does
 * (libtorrent `include/libtorrent/aux_/bind_to_device.hpp`, `bind_device`: SO_BINDTODEVICE on
 * every socket it opens): an HTTP GET over TCP and one UDP datagram, each from a socket bound to
 * DEVICE. Prints `uid=… gid=… CapEff=…`, then `tcp: <body or error>` and `udp: sent|<error>`.
 */
export const BOUND_SOCKET_PL = String.raw`use strict;
use warnings;
use Socket qw(AF_INET SOCK_STREAM SOCK_DGRAM SOL_SOCKET inet_aton pack_sockaddr_in);
my ($device, $host, $port, $udp_port) = @ARGV;
my $SO_BINDTODEVICE = 25; # linux/include/uapi/asm-generic/socket.h
open(my $status, "<", "/proc/self/status") or die "status: $!";
my ($eff) = map { /^CapEff:\s*(\S+)/ ? $1 : () } <$status>;
print "uid=$< gid=$( CapEff=$eff\n";
$| = 1;
my $ok = 0;
my $tcp;
socket($tcp, AF_INET, SOCK_STREAM, 0) or die "socket: $!";
if (!setsockopt($tcp, SOL_SOCKET, $SO_BINDTODEVICE, "$device\0")) {
  print "tcp: SO_BINDTODEVICE: $!\n";
} else {
  my $body = eval {
    local $SIG{ALRM} = sub { die "no answer within 3 s\n" };
    alarm 3;
    connect($tcp, pack_sockaddr_in($port, inet_aton($host))) or die "connect: $!\n";
    syswrite($tcp, "GET /cgi-bin/ip HTTP/1.0\r\nHost: $host\r\n\r\n");
    my $answer = "";
    while (sysread($tcp, my $chunk, 4096)) { $answer .= $chunk; }
    alarm 0;
    $answer;
  };
  if (defined $body) {
    my ($seen) = $body =~ /\r\n\r\n(\S+)/;
    print "tcp: seen as " . ($seen // "?") . "\n";
    $ok = 1;
  } else {
    print "tcp: $@";
  }
}
my $udp;
socket($udp, AF_INET, SOCK_DGRAM, 0) or die "socket: $!";
if (!setsockopt($udp, SOL_SOCKET, $SO_BINDTODEVICE, "$device\0")) {
  print "udp: SO_BINDTODEVICE: $!\n";
} elsif (defined send($udp, "lab-probe", 0, pack_sockaddr_in($udp_port, inet_aton($host)))) {
  print "udp: sent\n";
  $ok = 1;
} else {
  print "udp: send: $!\n";
}
exit($ok ? 0 : 1);
`;

/**
 * `frame.pl DEVICE DST_MAC SRC_IP DST_IP PORT`: one IPv4/UDP datagram built by hand and sent as a
 * raw Ethernet frame (AF_PACKET, which needs CAP_NET_RAW): below routing and netfilter, so no rule
 * in the pod's own tables sees it. Prints `frame: sent` or why not.
 */
export const RAW_FRAME_PL = String.raw`use strict;
use warnings;
use Socket qw(inet_aton);
my ($device, $dst_mac, $src_ip, $dst_ip, $port) = @ARGV;
my ($AF_PACKET, $SOCK_RAW, $ETH_P_IP) = (17, 3, 0x0800); # linux/include/linux/socket.h, if_ether.h
my $sock;
# Protocol 0: the socket only sends, it receives nothing.
if (!socket($sock, $AF_PACKET, $SOCK_RAW, 0)) {
  print "frame: socket(AF_PACKET): $!\n";
  exit 1;
}
sub slurp { open(my $f, "<", $_[0]) or die "$_[0]: $!"; my $v = <$f>; chomp $v; return $v; }
my $ifindex = slurp("/sys/class/net/$device/ifindex");
my $mac = sub { pack("H12", join("", split(/:/, $_[0]))) };
my $src_mac = slurp("/sys/class/net/$device/address");
my $payload = "lab-raw-frame";
my $udp = pack("nnnn", 40000, $port, 8 + length($payload), 0) . $payload; # UDP checksum 0: none
my $header = pack("CCnnnCCnA4A4", 0x45, 0, 20 + length($udp), 0, 0x4000, 64, 17, 0, inet_aton($src_ip), inet_aton($dst_ip));
my $sum = 0;
$sum += $_ for unpack("n10", $header);
$sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
substr($header, 10, 2) = pack("n", ~$sum & 0xffff);
my $frame = $mac->($dst_mac) . $mac->($src_mac) . pack("n", $ETH_P_IP) . $header . $udp;
# struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8]
my $to = pack("S n i S C C a8", $AF_PACKET, $ETH_P_IP, $ifindex, 0, 0, 6, $mac->($dst_mac));
if (defined send($sock, $frame, 0, $to)) {
  print "frame: sent\n";
  exit 0;
}
print "frame: send: $!\n";
exit 1;
`;
