# The steller binary: every service of the platform is one of its subcommands.
# kong/kong_test.go checks that GO_VERSION is go.mod's go version.

ARG GO_VERSION=1.27.3

# The web assets the binary embeds (Swagger UI for /docs): npm ci from package-lock.json and
# the copy into control-plane/api/docsassets/vendor, by the same script as a local install.
FROM node:20-bookworm AS web
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY scripts/install.sh scripts/
RUN bash scripts/install.sh web

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Whatever the build context holds in vendor/ gives way to the web stage's install.
RUN rm -rf control-plane/api/docsassets/vendor
COPY --from=web /src/control-plane/api/docsassets/vendor control-plane/api/docsassets/vendor
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/steller ./cmd/steller

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/steller /usr/local/bin/steller
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/steller"]
