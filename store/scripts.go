package store

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The scripts, one file each.
var (
	//go:embed create.lua
	createLua string
	//go:embed commit.lua
	commitLua string
	//go:embed refresh.lua
	refreshLua string
	//go:embed cas.lua
	casLua string
	//go:embed destroy.lua
	destroyLua string
	//go:embed index_add.lua
	indexAddLua string
	//go:embed index_list.lua
	indexListLua string
	//go:embed rotate.lua
	rotateLua string
	//go:embed create_indexed.lua
	createIndexedLua string
	//go:embed level.lua
	levelLua string
	//go:embed rotate_local.lua
	rotateLocalLua string
)

// Each script touches exactly one key, except createIndexed, which only standalone and Sentinel
// servers run: it is create.lua and index_add.lua wrapped as functions, so that their text exists
// once. level.lua, the privilege level's rule, goes ahead of every script that moves a TTL.
func composeCreateIndexed() string {
	return levelLua + asFunction("create", createLua) + asFunction("index_add", indexAddLua) + createIndexedLua
}

// composeRotateLocal is rotate_local.lua with rotate.lua and index_add.lua ahead of it as functions.
func composeRotateLocal() string {
	return levelLua + asFunction("rotate", rotateLua) + asFunction("index_add", indexAddLua) + rotateLocalLua
}

// asFunction wraps a script's text as a Lua function of KEYS and ARGV named name.
func asFunction(name, body string) string {
	return "local function " + name + "(KEYS, ARGV)\n" + body + "\nend\n"
}

// scripts holds the compiled scripts of one Store. go-redis sends EVALSHA and falls back to EVAL
// once when the server has not seen a script (after a restart or failover).
type scripts struct {
	create, commit, refresh, cas, destroy, indexAdd, indexList, rotate, createIndexed, rotateLocal *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:    redis.NewScript(levelLua + createLua),
		commit:    redis.NewScript(levelLua + commitLua),
		refresh:   redis.NewScript(levelLua + refreshLua),
		cas:       redis.NewScript(levelLua + casLua),
		destroy:   redis.NewScript(destroyLua),
		indexAdd:  redis.NewScript(indexAddLua),
		indexList: redis.NewScript(indexListLua),
		rotate:    redis.NewScript(rotateLua),

		createIndexed: redis.NewScript(composeCreateIndexed()),
		rotateLocal:   redis.NewScript(composeRotateLocal()),
	}
}
