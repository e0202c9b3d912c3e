module github.com/sigma-auth/sigma-auth/bench/go

go 1.26.0

require (
	github.com/sigma-auth/sigma-auth/bindings/go v0.0.0
	golang.org/x/oauth2 v0.38.0
)

replace github.com/sigma-auth/sigma-auth/bindings/go => ../../bindings/go
