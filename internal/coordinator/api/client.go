package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client talks to a coordinator.
type Client struct {
	Server string // e.g. http://127.0.0.1:7070
	Token  string
	HTTP   *http.Client // nil: http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		e := &Error{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, e) != nil || e.Err.Code == "" {
			e.Err.Code = "http_" + fmt.Sprint(resp.StatusCode)
			e.Err.Message = strings.TrimSpace(string(b))
		}
		return nil, e
	}
	return resp, nil
}

func (c *Client) json(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Submit submits a job.
func (c *Client) Submit(ctx context.Context, req *SubmitRequest) (*Job, error) {
	var j Job
	return &j, c.json(ctx, http.MethodPost, "/v1/jobs", req, &j)
}

// Job fetches one job with its progress.
func (c *Client) Job(ctx context.Context, id int64) (*Job, error) {
	var j Job
	return &j, c.json(ctx, http.MethodGet, fmt.Sprintf("/v1/jobs/%d", id), nil, &j)
}

// Jobs lists the caller's jobs, newest first.
func (c *Client) Jobs(ctx context.Context) ([]Job, error) {
	var l JobList
	return l.Jobs, c.json(ctx, http.MethodGet, "/v1/jobs", nil, &l)
}

// Cancel cancels a running job.
func (c *Client) Cancel(ctx context.Context, id int64) (*Job, error) {
	var j Job
	return &j, c.json(ctx, http.MethodPost, fmt.Sprintf("/v1/jobs/%d/cancel", id), nil, &j)
}

// Segments lists a job's ended segments, oldest first.
func (c *Client) Segments(ctx context.Context, id int64) ([]Segment, error) {
	var out SegmentList
	err := c.json(ctx, http.MethodGet, fmt.Sprintf("/v1/jobs/%d/segments", id), nil, &out)
	return out.Segments, err
}

// Workers lists every worker's record.
func (c *Client) Workers(ctx context.Context) ([]Worker, error) {
	var l WorkerList
	return l.Workers, c.json(ctx, http.MethodGet, "/v1/workers", nil, &l)
}

// Results streams a job's finished tasks after seq `after` to fn, in
// finishing order. With follow it waits for more until the job ends.
func (c *Client) Results(ctx context.Context, id int64, after int64, follow bool, fn func(*TaskResult) error) error {
	q := url.Values{"after": {fmt.Sprint(after)}}
	if follow {
		q.Set("follow", "true")
	}
	resp, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/jobs/%d/results?%s", id, q.Encode()), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var r TaskResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("results: bad line: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Credit fetches the accounts' standing credit (public: no token needed),
// most first. account "" is every account; since "" is all time, else a day
// YYYY-MM-DD (UTC) from which on credit counts.
func (c *Client) Credit(ctx context.Context, account, since string) (*Credit, error) {
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	if since != "" {
		q.Set("since", since)
	}
	path := "/v1/credit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out Credit
	return &out, c.json(ctx, http.MethodGet, path, nil, &out)
}

// SiteCredit fetches a site's standing credit and the accounts whose work
// it is (GET /v1/credit?site=SITE; public); since as in Credit.
func (c *Client) SiteCredit(ctx context.Context, site, since string) (*Credit, error) {
	q := url.Values{"site": {site}}
	if since != "" {
		q.Set("since", since)
	}
	var out Credit
	return &out, c.json(ctx, http.MethodGet, "/v1/credit?"+q.Encode(), nil, &out)
}
