module github.com/sigma-auth/sigma-auth/examples/go

go 1.26.0

require github.com/sigma-auth/sigma-auth/bindings/go v0.0.0

require golang.org/x/oauth2 v0.38.0 // indirect

replace github.com/sigma-auth/sigma-auth/bindings/go => ../../bindings/go
