package middleware

import (
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// maxAgentBytes bounds the User-Agent a session records.
const maxAgentBytes = 256

// timeNow is time.Now; the one clock the middleware reads.
func timeNow() time.Time { return time.Now() }

// device returns what the session records about r's device, per Options.Device.
func (m *Manager) device(r *http.Request) (agent, addr string) {
	if m.opts.Device == DeviceNone || r == nil {
		return "", ""
	}
	agent = r.UserAgent()
	if len(agent) > maxAgentBytes {
		agent = agent[:maxAgentBytes]
		for !utf8.ValidString(agent) {
			agent = agent[:len(agent)-1]
		}
	}
	agent = strings.ToValidUTF8(agent, "")
	addr = m.opts.ClientIP(r)
	if m.opts.Device == DeviceCoarse {
		addr = coarsen(addr)
	}
	return agent, addr
}

// coarsen reduces an address to its /24 (IPv4) or /48 (IPv6) network; anything else is dropped.
func coarsen(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
