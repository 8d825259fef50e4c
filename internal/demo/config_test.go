package demo

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redisession/redisession/middleware"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != DefaultAddr || c.Redis.Mode != RedisEmbedded || c.ClientCache || c.Prefix != "" ||
		c.IdleTimeout != 30*time.Minute || c.AbsoluteTimeout != 12*time.Hour ||
		c.ElevatedIdleTimeout != 5*time.Minute || c.ElevatedAbsoluteTimeout != 15*time.Minute ||
		c.ElevatedOnExpiry != middleware.StepDown || !c.CookieSecure || c.HashKey != nil {
		t.Errorf("defaults: %+v", c)
	}
}

func TestLoadConfigValues(t *testing.T) {
	key := make([]byte, 48)
	for i := range key {
		key[i] = byte(i)
	}
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw url": base64.RawURLEncoding} {
		c, err := LoadConfig(env(map[string]string{
			EnvAddr:                    ":0",
			EnvRedisURL:                "rediss://app:pw@redis.internal:6380/2?dial_timeout=3s",
			EnvClientCache:             "true",
			EnvPrefix:                  "shop:",
			EnvIdleTimeout:             "45m",
			EnvAbsoluteTimeout:         "8h",
			EnvElevatedIdleTimeout:     "2m",
			EnvElevatedAbsoluteTimeout: "10m",
			EnvElevatedOnExpiry:        "logout",
			EnvCookieSecure:            "false",
			EnvHashKey:                 enc.EncodeToString(key),
		}))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		o := c.Redis.Standalone
		if c.Redis.Mode != RedisStandalone || o.Addr != "redis.internal:6380" || o.DB != 2 || o.Password != "pw" || o.TLSConfig == nil || o.DialTimeout != 3*time.Second {
			t.Errorf("%s: Redis %+v", name, c.Redis)
		}
		if c.Addr != ":0" || !c.ClientCache || c.Prefix != "shop:" || c.IdleTimeout != 45*time.Minute || c.AbsoluteTimeout != 8*time.Hour ||
			c.ElevatedIdleTimeout != 2*time.Minute || c.ElevatedAbsoluteTimeout != 10*time.Minute || c.ElevatedOnExpiry != middleware.EndSession || c.CookieSecure || !slices.Equal(c.HashKey, key) {
			t.Errorf("%s: %+v", name, c)
		}
	}
}

func TestLoadConfigClusterAndSentinel(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{
		EnvRedisURL:     "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000",
		EnvRedisCluster: "true",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Mode != RedisCluster || !slices.Equal(c.Redis.Addrs(), []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"}) {
		t.Errorf("cluster: %+v", c.Redis)
	}
	c, err = LoadConfig(env(map[string]string{
		EnvRedisURL:       "redis://10.0.0.1:26379?addr=10.0.0.2:26379",
		EnvSentinelMaster: "sessions",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.Mode != RedisSentinel || c.Redis.Failover.MasterName != "sessions" || !slices.Equal(c.Redis.Addrs(), []string{"10.0.0.1:26379", "10.0.0.2:26379"}) {
		t.Errorf("sentinel: %+v", c.Redis)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	for _, tc := range []struct {
		env    map[string]string
		want   []string
		secret string
	}{
		{map[string]string{EnvAddr: "8080"}, []string{EnvAddr}, ""},
		{map[string]string{EnvRedisURL: "redis://u:topsecret@host:notaport"}, []string{EnvRedisURL}, "topsecret"},
		{map[string]string{EnvRedisURL: "redis://h:1", EnvRedisCluster: "true", EnvSentinelMaster: "m"}, []string{EnvRedisCluster, EnvSentinelMaster}, ""},
		{map[string]string{EnvPrefix: "has space"}, []string{EnvPrefix}, ""},
		{map[string]string{EnvPrefix: strings.Repeat("p", 65)}, []string{EnvPrefix}, ""},
		{map[string]string{EnvIdleTimeout: "500us"}, []string{EnvIdleTimeout}, ""},
		{map[string]string{EnvHashKey: "c2hvcnQ="}, []string{EnvHashKey}, "c2hvcnQ="},
		{map[string]string{EnvElevatedOnExpiry: "sudo"}, []string{EnvElevatedOnExpiry}, ""},
		{map[string]string{EnvElevatedOnExpiry: "stepdown"}, []string{EnvElevatedOnExpiry}, ""},
		// Every invalid variable is reported at once.
		{map[string]string{EnvCookieSecure: "yes please", EnvAbsoluteTimeout: "forever", EnvClientCache: "2"},
			[]string{EnvCookieSecure, EnvAbsoluteTimeout, EnvClientCache}, ""},
	} {
		_, err := LoadConfig(env(tc.env))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%v: err %v; want ErrConfig", tc.env, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not name %s", tc.env, err, w)
			}
		}
		if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%v: %q repeats the secret", tc.env, err)
		}
	}
}

func TestCheckUser(t *testing.T) {
	for _, ok := range []string{"alice", "Zoë Müller", "a@b.example"} {
		if err := checkUser(ok); err != nil {
			t.Errorf("checkUser(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " alice", "alice ", "a\nb", strings.Repeat("x", 65), "\xff"} {
		if err := checkUser(bad); !errors.Is(err, ErrBadInput) {
			t.Errorf("checkUser(%q) = %v; want ErrBadInput", bad, err)
		}
	}
}

func TestLoadConfigClientCacheOnCluster(t *testing.T) {
	_, err := LoadConfig(env(map[string]string{EnvRedisURL: "redis://h:7000", EnvRedisCluster: "true", EnvClientCache: "true"}))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), EnvClientCache) || !strings.Contains(err.Error(), EnvRedisCluster) {
		t.Errorf("err %v; want a refusal naming %s and %s", err, EnvClientCache, EnvRedisCluster)
	}
}

func TestLoadConfigElevatedOnExpiry(t *testing.T) {
	for v, want := range map[string]middleware.LevelExpiry{
		"": middleware.StepDown, "step-down": middleware.StepDown, " Step-Down ": middleware.StepDown,
		"logout": middleware.EndSession, "LOGOUT": middleware.EndSession,
	} {
		c, err := LoadConfig(env(map[string]string{EnvElevatedOnExpiry: v}))
		if err != nil {
			t.Errorf("%s=%q: %v", EnvElevatedOnExpiry, v, err)
			continue
		}
		if c.ElevatedOnExpiry != want {
			t.Errorf("%s=%q: %v; want %v", EnvElevatedOnExpiry, v, c.ElevatedOnExpiry, want)
		}
		o := managerOptions(c, nil).Levels[middleware.LevelElevated]
		if o.OnExpiry != want || o.Idle != DefaultElevatedIdleTimeout || o.Absolute != DefaultElevatedAbsoluteTimeout {
			t.Errorf("%s=%q: elevated level %+v", EnvElevatedOnExpiry, v, o)
		}
	}
}
