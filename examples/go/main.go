// The seed guide's Go example. Run: go run ./examples/go
package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
)

type Item struct {
	Fruit  string `json:"fruit"`
	Amount int    `json:"amount"`
}

type Request struct {
	Items []Item `json:"items"`
}

func main() {
	apiURL := os.Getenv("API_URL")
	if apiURL == "" {
		apiURL = "http://localhost:8000"
	}
	req := Request{
		Items: []Item{
			{Fruit: "APPLE", Amount: 5},
			{Fruit: "BANANA", Amount: 3},
		},
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post(
		apiURL+"/workflows/shopping",
		"application/json",
		bytes.NewBuffer(body),
	)
	if err != nil {
		println("Error:", err.Error())
		os.Exit(1)
	}
	defer resp.Body.Close()
	var result map[string]interface{}
	json.NewDecoder(resp.Body).Decode(&result)
	println("Result:", result["result"].(string))
}
