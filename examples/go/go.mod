module example.com/temporal-gateway/examples/go

go 1.21
