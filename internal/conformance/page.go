package conformance

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// htmlForm is one form of the page.
type htmlForm struct {
	Action, Method string
	Inputs         map[string]string // name → value
}

// forms returns the forms of an HTML document.
func forms(t testing.TB, body []byte) []htmlForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the page: %v", err)
	}
	var out []htmlForm
	var cur *htmlForm
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				out = append(out, htmlForm{Action: attr(n, "action"), Method: strings.ToLower(attr(n, "method")), Inputs: map[string]string{}})
				cur = &out[len(out)-1]
				defer func() { cur = nil }()
			case "input":
				if cur != nil && attr(n, "name") != "" {
					cur.Inputs[attr(n, "name")] = attr(n, "value")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// page reads GET / and returns the response and its forms by action (the last form of each action).
func (c *client) page() (*response, map[string]htmlForm) {
	t := c.h.t
	t.Helper()
	r := c.get("/")
	want(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("GET /: Content-Type %q; want text/html", ct)
	}
	byAction := map[string]htmlForm{}
	for _, f := range forms(t, r.Body) {
		byAction[f.Action] = f
	}
	return r, byAction
}

// testPage: the page shows a visitor the login form and a user the fields, the devices with revoke
// buttons and the logout buttons; every form posts and carries the CSRF token; values are escaped.
func (s *suite) testPage(t *testing.T) {
	h := s.start(t, nil)
	visitor := h.client("conformance page visitor")
	r, fs := visitor.page()
	noSetCookie(t, r)
	if f, ok := fs["/api/login"]; !ok || f.Method != "post" || !hasInput(f, "user") {
		t.Errorf("the visitor's page has no login form posting user: %+v", fs)
	}
	if keys := h.keys("*"); len(keys) != 0 {
		t.Errorf("reading the page created keys: %v", keys)
	}

	c, other := h.client("conformance page user"), h.client("conformance page other device")
	id := c.login("alice")
	otherID := other.login("alice")
	wantJSON(t, c.post("/api/set", form("key", "greeting", "value", "<b>hi</b>")), http.StatusOK, nil)
	c.incr("visits")
	token := c.session().CSRF

	r, fs = c.page()
	body := string(r.Body)
	for _, action := range []string{"/api/set", "/api/incr", "/api/delete", "/api/logout", "/api/logout-others", "/api/logout-all", "/api/elevate", "/api/sessions/revoke"} {
		if _, ok := fs[action]; !ok {
			t.Errorf("the page has no form posting to %s", action)
		}
	}
	for _, f := range forms(t, r.Body) {
		if f.Method != "post" || f.Inputs["csrf_token"] != token {
			t.Errorf("form %s: method %q, csrf_token %q; want post with the session's token", f.Action, f.Method, f.Inputs["csrf_token"])
		}
	}
	if rv := fs["/api/sessions/revoke"]; rv.Inputs["handle"] != handleOf(otherID) {
		t.Errorf("the revoke form names handle %q; want the other device's", rv.Inputs["handle"])
	}
	if strings.Contains(body, "value=\""+handleOf(id)+"\"") {
		t.Error("the page offers to revoke this very session; want a marker instead")
	}
	if !strings.Contains(body, "alice") || !strings.Contains(body, "greeting") || !strings.Contains(body, "&lt;b&gt;hi&lt;/b&gt;") {
		t.Error("the page does not show the user and the escaped field")
	}
	if strings.Contains(body, "<b>hi</b>") {
		t.Error("the page shows a field value unescaped")
	}
	if strings.Contains(body, id) || strings.Contains(body, otherID) {
		t.Error("the page shows a session ID")
	}
}

func hasInput(f htmlForm, name string) bool {
	_, ok := f.Inputs[name]
	return ok
}
