package security

//go:generate go run ./internal/gensyscalls
