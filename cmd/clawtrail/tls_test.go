package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// certPair makes a certificate signed by parent (self-signed when nil).
func certPair(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: isCA,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// serve --tls-cert --tls-key --tls-client-ca: TLS 1.2 or later, and a
// client without a certificate signed by the CA is refused at the handshake.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, caKey, caPEM, _ := certPair(t, "test ca", true, nil, nil)
	_, _, srvPEM, srvKeyPEM := certPair(t, "127.0.0.1", false, ca, caKey)
	_, _, cliPEM, cliKeyPEM := certPair(t, "client", false, ca, caKey)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	caFile, srvCert, srvKey := write("ca.pem", caPEM), write("srv.pem", srvPEM), write("srv.key", srvKeyPEM)
	ts := startServer(t, filepath.Join(dir, "data"), func(c *serveConfig) {
		c.TLSCert, c.TLSKey, c.TLSClientCA = srvCert, srvKey, caFile
	})
	url := "https" + ts.url[len("http"):] + "/v1/events"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	get := func(cfg *tls.Config) (int, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+ts.token)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if _, err := get(&tls.Config{RootCAs: pool}); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	cc, _ := tls.X509KeyPair(cliPEM, cliKeyPEM)
	if st, err := get(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cc}}); err != nil || st != 200 {
		t.Fatalf("with a client certificate: %d %v", st, err)
	}
	if _, err := get(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cc}, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 was accepted")
	}
}
