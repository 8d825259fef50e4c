package demo

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/redisession/redisession/middleware"
)

//go:embed assets/page.html assets/page.css assets/page.js
var assets embed.FS

// page renders GET /. Its style and script are inline, allowed by their hashes in the
// Content-Security-Policy, so the page loads nothing else and runs no other script.
type page struct {
	tmpl   *template.Template
	styles template.CSS
	script template.JS
	csp    string
}

func newPage() (*page, error) {
	html, err := assets.ReadFile("assets/page.html")
	if err != nil {
		return nil, err
	}
	css, err := assets.ReadFile("assets/page.css")
	if err != nil {
		return nil, err
	}
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		return nil, err
	}
	t, err := template.New("page").Parse(string(html))
	if err != nil {
		return nil, fmt.Errorf("parsing the page template: %w", err)
	}
	csp := "default-src 'none'; script-src '" + hashSource(js) + "'; style-src '" + hashSource(css) +
		"'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	return &page{tmpl: t, styles: template.CSS(css), script: template.JS(js), csp: csp}, nil
}

// hashSource is a CSP hash source for an inline style or script.
func hashSource(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// PageReply is the answer of GET /: an HTML page and the headers that go with it.
type PageReply struct {
	Status int
	HTML   []byte
	csp    string
}

// ContentType is the page's Content-Type.
const ContentType = "text/html; charset=utf-8"

// SetHeaders adds the page's security headers (Content-Security-Policy and friends) to h. The
// Content-Type is for the framework's writer to set (ContentType).
func (p PageReply) SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// WriteHTML writes p with net/http.
func WriteHTML(w http.ResponseWriter, p PageReply) {
	p.SetHeaders(w.Header())
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(p.Status)
	_, _ = w.Write(p.HTML)
}

// pageData is what the template shows.
type pageData struct {
	Session SessionView
	// ElevatedUntil is when the elevated level lapses unless used again, as a time of day; "" at
	// level user.
	ElevatedUntil string
	Fields        []pageField
	Devices       []pageDevice
	Error         string
	Styles        template.CSS
	Script        template.JS
}

// pageField is one field as the page shows it; Counter marks an integer, which gets a +1 button.
type pageField struct {
	Name, Value string
	Counter     bool
}

type pageDevice struct {
	Handle, UserAgent, IP, Created, LastSeen string
	Current                                  bool
}

// Page answers GET /: the login form or the account buttons, the session's fields with forms to
// change them, and the user's devices with revoke buttons. Every form carries the CSRF token. Like
// /api/session, it only reads.
func (a *App) Page(s *middleware.Session) PageReply {
	d := pageData{Styles: a.page.styles, Script: a.page.script, Session: SessionView{Level: LevelUser}}
	status := http.StatusOK
	if err := loaded(s); err != nil {
		f := Fail(err)
		status, d.Error = f.Status, f.Body.(ErrorView).Error
	} else {
		d.Session = viewSession(s)
		if u := d.Session.ElevatedUntil; u != nil {
			d.ElevatedUntil = displayClock(*u)
		}
		d.Fields = pageFields(d.Session)
		if d.Session.Authenticated {
			ds, err := s.Sessions()
			if err != nil {
				f := Fail(err)
				status, d.Error = f.Status, f.Body.(ErrorView).Error
			}
			d.Devices = pageDevices(viewDevices(ds))
		}
	}
	var b bytes.Buffer
	if err := a.page.tmpl.Execute(&b, d); err != nil {
		a.Log.Error("rendering the page", "err", err)
		b.Reset()
		b.WriteString("<!doctype html><title>error</title><p>The page could not be rendered.</p>")
		status = http.StatusInternalServerError
	}
	return PageReply{Status: status, HTML: b.Bytes(), csp: a.page.csp}
}

// pageFields lists the fields by name, strings shown without their JSON quotes.
func pageFields(v SessionView) []pageField {
	out := make([]pageField, 0, len(v.Fields))
	for _, k := range sortedKeys(v.Fields) {
		raw := v.Fields[k]
		out = append(out, pageField{Name: k, Value: displayValue(raw), Counter: isInteger(raw)})
	}
	return out
}

func pageDevices(ds []DeviceView) []pageDevice {
	out := make([]pageDevice, 0, len(ds))
	for _, d := range ds {
		out = append(out, pageDevice{Handle: d.Handle, UserAgent: d.UserAgent, IP: d.IP,
			Created: displayTime(d.Created), LastSeen: displayTime(d.LastSeen), Current: d.Current})
	}
	return out
}

// displayClock shows an RFC 3339 time as a time of day in UTC.
func displayClock(rfc string) string {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return rfc
	}
	return t.UTC().Format("15:04:05 UTC")
}

func displayTime(rfc string) string {
	t, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		return rfc
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
