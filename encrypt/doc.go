// Package encrypt seals the session fields an application marks sensitive with AES-256-GCM from the
// standard library, so that a Redis dump, replica, backup or MONITOR stream holds no plaintext of them.
//
// Each ciphertext is bound to its session's handle and its field name as associated data: copied to
// another session or another field, it fails to decrypt. Keys rotate by list: the first key seals,
// every key opens. Pass an *AEAD as store.Options.Sealer, naming the fields in
// store.Options.Encrypted.
package encrypt
