package coordinator

import "net/http"

// webRoutes adds the pages served to visitors' browsers (the contribute
// page, the embed snippet and the JavaScript runtime).
func (c *Coordinator) webRoutes(mux *http.ServeMux) {}
