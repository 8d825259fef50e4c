package store

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// Each script touches exactly one key, so every one of them runs unchanged on Redis Cluster.
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
)

// scripts holds the compiled scripts of one Store. go-redis sends EVALSHA and falls back to EVAL
// once when the server has not seen a script (after a restart or failover).
type scripts struct {
	create, commit, refresh, cas, destroy, indexAdd, indexList *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:    redis.NewScript(createLua),
		commit:    redis.NewScript(commitLua),
		refresh:   redis.NewScript(refreshLua),
		cas:       redis.NewScript(casLua),
		destroy:   redis.NewScript(destroyLua),
		indexAdd:  redis.NewScript(indexAddLua),
		indexList: redis.NewScript(indexListLua),
	}
}
