module example.com/temporal-gateway/examples/webhooks/go

go 1.21
