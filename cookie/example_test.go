package cookie_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redisession/redisession/cookie"
)

// A session ID as the store issues it: 32 random bytes, base64url without padding.
const exampleID = "q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A"

func ExampleNew() {
	// The zero Options is the secure default.
	c, err := cookie.New(cookie.Options{})
	if err != nil {
		panic(err)
	}
	ck, err := c.Cookie(exampleID, time.Time{}) // no Persist: the deadline is not used
	if err != nil {
		panic(err)
	}
	fmt.Println(ck)

	// Combinations a browser would reject are refused up front.
	_, err = cookie.New(cookie.Options{Name: "__Host-session", Domain: "example.com"})
	fmt.Println(errors.Is(err, cookie.ErrInvalidOptions))
	fmt.Println(err)
	// Output:
	// __Host-session=q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A; Path=/; HttpOnly; Secure; SameSite=Lax
	// true
	// redisession/cookie: invalid options: name "__Host-session": the __Host- prefix forbids a Domain (got "example.com")
}

func ExampleCodec_Read() {
	c, err := cookie.New(cookie.Options{})
	if err != nil {
		panic(err)
	}
	for _, header := range []string{
		"__Host-session=" + exampleID,                      // a well-formed ID
		"__Host-session=" + exampleID + "=",                // padded: refused
		"__Host-session=not-a-session-id",                  // garbage: refused
		"__Host-session=junk; __Host-session=" + exampleID, // the first valid one wins
		"theme=dark", // no session cookie
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Cookie", header)
		fmt.Printf("%q\n", c.Read(r))
	}
	// Output:
	// "q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A"
	// ""
	// ""
	// "q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A"
	// ""
}

func ExampleCodec_Cookie() {
	c, err := cookie.New(cookie.Options{Name: "__Host-sid", Persist: true})
	if err != nil {
		panic(err)
	}
	deadline := time.Now().Add(7 * 24 * time.Hour) // the session's absolute deadline
	ck, err := c.Cookie(exampleID, deadline)
	if err != nil {
		panic(err)
	}
	fmt.Println(ck.Name, ck.MaxAge)

	// On logout, replace it with a cookie that deletes it.
	fmt.Println(c.Clear())
	// Output:
	// __Host-sid 604800
	// __Host-sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Lax
}

// Signed cookies with key rotation: the new key goes first and signs; the old key stays in the
// list, verifying the cookies it signed, until they have all expired.
func ExampleOptions_hashKeys() {
	oldKey := bytes.Repeat([]byte{1}, 32) // load real keys from a secret store
	newKey := bytes.Repeat([]byte{2}, 32)

	before, err := cookie.New(cookie.Options{HashKeys: [][]byte{oldKey}})
	if err != nil {
		panic(err)
	}
	issued, err := before.Encode(exampleID)
	if err != nil {
		panic(err)
	}

	after, err := cookie.New(cookie.Options{HashKeys: [][]byte{newKey, oldKey}})
	if err != nil {
		panic(err)
	}
	fmt.Println(after.Parse(issued))    // signed with the old key: still accepted
	fmt.Println(after.Parse(exampleID)) // a bare ID is refused once signing is on
	// Output:
	// q7Fh3vK9xWm2LpR8tYb4NcZ0dJs6GeUaXo1iVw5Hk_A true
	//  false
}
