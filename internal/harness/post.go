package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inviter/inviter/isctest"
)

// Payload is the Identity Created event of id as ISC's trigger sends it:
// the identity's reference and its attributes.
func Payload(id isctest.Identity) ([]byte, error) {
	return json.Marshal(map[string]any{
		"identity":   map[string]string{"type": "IDENTITY", "id": id.ID, "name": id.Name},
		"attributes": id.Attributes,
	})
}

// Posted is what Post measured.
type Posted struct {
	// Sent is the number of payloads.
	Sent int
	// Acked are the times to each 200 answer (each after its commit), in
	// the payloads' order; the others failed.
	Acked []time.Duration
	// Wall is the time from the first post to the last answer.
	Wall time.Duration
}

// Failed is the number of payloads answered other than 200, or not at all.
func (p Posted) Failed() int { return p.Sent - len(p.Acked) }

// Post posts payloads to the daemon's webhook as ISC would (POST, JSON, the
// rig's bearer token) from senders goroutines, each payload once, and times
// every answer. It returns ctx's error when ctx ends first.
func (r *Rig) Post(ctx context.Context, payloads [][]byte, senders int) (Posted, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url, token := r.WebhookURL(), r.Token()
	lat := make([]time.Duration, len(payloads))
	ok := make([]bool, len(payloads))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(payloads) || ctx.Err() != nil {
					return
				}
				lat[i], ok[i] = post(ctx, client, url, token, payloads[i])
			}
		})
	}
	wg.Wait()
	p := Posted{Sent: len(payloads), Wall: time.Since(start)}
	for i := range ok {
		if ok[i] {
			p.Acked = append(p.Acked, lat[i])
		}
	}
	return p, ctx.Err()
}

// post sends one delivery and reports the time to its answer and whether
// that was 200.
func post(ctx context.Context, client *http.Client, url, token string, body []byte) (time.Duration, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(t0), resp.StatusCode == http.StatusOK
}
