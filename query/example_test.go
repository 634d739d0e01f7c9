package query_test

import (
	"fmt"

	"github.com/clawtrail/clawtrail"
	"github.com/clawtrail/clawtrail/query"
)

func ExampleParse() {
	q, err := query.Parse(`tool:(send_email OR exec) -status:success "Delayed shipment"`)
	if err != nil {
		panic(err)
	}
	fmt.Println(q)

	e := &clawtrail.Event{Type: "tool_call", Tool: "exec", Content: "the delayed shipment, again"}
	fmt.Println(q.Match(e))

	_, err = query.Parse("status:error OR")
	fmt.Println(err)
	// Output:
	// (tool:send_email OR tool:exec) -status:success "delayed shipment"
	// true
	// query: position 15: expected a term after OR, found end of query
}

func ExampleQuery_SQLite() {
	q, err := query.Parse(`type:tool_call tool:send_* email`)
	if err != nil {
		panic(err)
	}
	p, err := q.SQLite(1, "acme")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Where)
	fmt.Printf("%q\n", p.Args)
	fmt.Println(p.FTS, p.Exact)
	// Output:
	// (e.type = ? AND (e.tool IS NOT NULL AND e.tool >= ? AND e.tool < ?))
	// ["tool_call" "send_" "send`"]
	// "§t1" AND "email" true
}
