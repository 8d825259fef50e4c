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
)

// Each script touches exactly one key, except createIndexed, which only standalone and Sentinel
// servers run: it is create.lua and index_add.lua wrapped as functions, so that their text exists
// once. level.lua, the privilege level's rule, goes ahead of every script that moves a TTL.
func composeCreateIndexed() string {
	return "local function create(KEYS, ARGV)\n" + createLua + "\nend\n" +
		"local function index_add(KEYS, ARGV)\n" + indexAddLua + "\nend\n" + createIndexedLua
}

// scripts holds the compiled scripts of one Store. go-redis sends EVALSHA and falls back to EVAL
// once when the server has not seen a script (after a restart or failover).
type scripts struct {
	create, commit, refresh, cas, destroy, indexAdd, indexList, rotate, createIndexed *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:    redis.NewScript(createLua),
		commit:    redis.NewScript(levelLua + commitLua),
		refresh:   redis.NewScript(levelLua + refreshLua),
		cas:       redis.NewScript(levelLua + casLua),
		destroy:   redis.NewScript(destroyLua),
		indexAdd:  redis.NewScript(indexAddLua),
		indexList: redis.NewScript(indexListLua),
		rotate:    redis.NewScript(rotateLua),

		createIndexed: redis.NewScript(composeCreateIndexed()),
	}
}
