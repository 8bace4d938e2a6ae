package chat

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures storing one chat message (one BEGIN IMMEDIATE
// transaction on a real SQLite file in WAL mode), the cost behind every
// ack. -cpu with several values shows the writers queueing on the one
// write connection.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	db := newDB(b)
	st := NewSQLiteStore(db)
	var convs []int64
	for range 64 {
		_, hash := newVisitorToken()
		v, _ := st.CreateVisitor(ctx, hash, time.Now())
		c, _ := st.OpenConversation(ctx, v, "Pat", "", time.Now())
		convs = append(convs, c.ID)
	}
	var n atomicCounter
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.next()
			_, err := st.Append(ctx, NewMessage{ConversationID: convs[i%int64(len(convs))], From: FromCustomer, Author: "Pat",
				ClientID: fmt.Sprint(i), Text: "Where is my order? It was due yesterday.", EnterQueue: true}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

type atomicCounter struct{ v atomic.Int64 }

func (c *atomicCounter) next() int64 { return c.v.Add(1) }
