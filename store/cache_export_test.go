package store

// ForgetForTest drops the cached reply of the session with the given ID, as every write does.
func (s *Store) ForgetForTest(id string) { s.forget(s.sessionKey(Handle(id))) }

// KeepCacheAfterWritesForTest stops the store from dropping cached replies after its writes, to show
// what that prevents.
func (s *Store) KeepCacheAfterWritesForTest() { s.cache = nil }

// RouteWritesForTest sets how writes reach Redis: min 0 sends every write directly, 1 sends every
// write through the autopipeliner, autopipelineMin is the default.
func (s *Store) RouteWritesForTest(min int64) {
	if min == 0 {
		s.writes.ap = nil
		return
	}
	s.writes.min = min
}

// AutopipelineMin is the default threshold of RouteWritesForTest.
const AutopipelineMin = autopipelineMin
