package ledger

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The tree over a tenant's leaves is RFC 6962's: leaf hash
// SHA-256(0x00 ‖ leaf record), node hash SHA-256(0x01 ‖ left ‖ right), the
// empty tree's root SHA-256("").

// TileHeight is the height of a stored tile (x/mod/sumdb/tlog layout): a tile
// at tile level L holds up to 256 hashes of tree level 8·L.
const TileHeight = 8

// TileWidth is the number of hashes in a full tile.
const TileWidth = 1 << TileHeight

// Hasher is the RFC 6962 SHA-256 hasher.
var Hasher = rfc6962.DefaultHasher

// HashChildren returns SHA-256(0x01 ‖ l ‖ r).
func HashChildren(l, r []byte) []byte { return Hasher.HashChildren(l, r) }

// EmptyRoot is the root of the empty tree, SHA-256("").
func EmptyRoot() [32]byte { return sha256.Sum256(nil) }

var factory = &compact.RangeFactory{Hash: HashChildren}

// Tree is the right edge of a tenant's tree (a compact range over [0, size)),
// enough to append leaves and compute the root. It holds O(log size) hashes.
type Tree struct {
	r *compact.Range
}

// NewTree returns the empty tree.
func NewTree() *Tree { return &Tree{r: factory.NewEmptyRange(0)} }

// LoadTree rebuilds a tree of the given size from the hashes returned by
// Hashes.
func LoadTree(size uint64, hashes [][]byte) (*Tree, error) {
	r, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, fmt.Errorf("tree state of size %d: %w", size, err)
	}
	return &Tree{r: r}, nil
}

// Size is the number of leaves.
func (t *Tree) Size() uint64 { return t.r.End() }

// Hashes are the compact range's hashes, to be stored and given to LoadTree.
func (t *Tree) Hashes() [][]byte { return t.r.Hashes() }

// Clone returns an independent copy.
func (t *Tree) Clone() *Tree {
	hs := t.r.Hashes()
	cp := make([][]byte, len(hs))
	for i, h := range hs {
		cp[i] = append([]byte(nil), h...)
	}
	r, _ := factory.NewRange(0, t.r.End(), cp)
	return &Tree{r: r}
}

// Append adds a leaf hash. visit, when not nil, is called for every node the
// append completes, the leaf itself included (level 0).
func (t *Tree) Append(leafHash []byte, visit func(level uint, index uint64, hash []byte)) {
	var v compact.VisitFn
	if visit != nil {
		v = func(id compact.NodeID, h []byte) { visit(id.Level, id.Index, h) }
	}
	// Append fails only for a range not starting at 0, which a Tree never is.
	if err := t.r.Append(leafHash, v); err != nil {
		panic(err)
	}
}

// Root returns the tree's root hash.
func (t *Tree) Root() [32]byte {
	h, _ := t.r.GetRootHash(nil)
	if h == nil {
		return EmptyRoot()
	}
	return [32]byte(h)
}

// NodeFunc returns the hash of the complete subtree at (level, index): the
// one covering leaves [index·2^level, (index+1)·2^level).
type NodeFunc func(level uint, index uint64) ([]byte, error)

// InclusionProof returns the RFC 6962 audit path for leaf index in the tree
// of the given size, reading the nodes it needs through node.
func InclusionProof(index, size uint64, node NodeFunc) ([][]byte, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: seq %d is not in a tree of size %d", ErrProof, index, size)
	}
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return build(n, node)
}

// ConsistencyProof returns the RFC 6962 consistency proof between trees of
// sizes from and to.
func ConsistencyProof(from, to uint64, node NodeFunc) ([][]byte, error) {
	if from > to {
		return nil, fmt.Errorf("%w: from %d is larger than to %d", ErrProof, from, to)
	}
	n, err := proof.Consistency(from, to)
	if err != nil {
		return nil, err
	}
	return build(n, node)
}

// RootAt returns the root of the tree's first size leaves.
func RootAt(size uint64, node NodeFunc) ([32]byte, error) {
	if size == 0 {
		return EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	hs := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := node(id.Level, id.Index)
		if err != nil {
			return [32]byte{}, err
		}
		hs[i] = h
	}
	t, err := LoadTree(size, hs)
	if err != nil {
		return [32]byte{}, err
	}
	return t.Root(), nil
}

func build(n proof.Nodes, node NodeFunc) ([][]byte, error) {
	hs := make([][]byte, len(n.IDs))
	for i, id := range n.IDs {
		h, err := node(id.Level, id.Index)
		if err != nil {
			return nil, err
		}
		hs[i] = h
	}
	return n.Rehash(hs, HashChildren)
}

// ErrProof reports a proof that was asked for sizes that do not exist or did
// not verify.
var ErrProof = errors.New("proof")

// VerifyInclusion checks an inclusion proof of leafHash at index against the
// root of a tree of the given size.
func VerifyInclusion(index, size uint64, leafHash []byte, hashes [][]byte, root []byte) error {
	if err := proof.VerifyInclusion(Hasher, index, size, leafHash, hashes, root); err != nil {
		return fmt.Errorf("%w: inclusion of seq %d in the tree of size %d: %v", ErrProof, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size to with root2 extends the
// tree of size from with root1.
func VerifyConsistency(from, to uint64, hashes [][]byte, root1, root2 []byte) error {
	if err := proof.VerifyConsistency(Hasher, from, to, hashes, root1, root2); err != nil {
		return fmt.Errorf("%w: consistency of the tree of size %d with the tree of size %d: %v", ErrProof, from, to, err)
	}
	return nil
}

// SubtreeHash hashes 2^k consecutive hashes of one level into the hash of
// their subtree, k levels up. len(hs) must be a power of two.
func SubtreeHash(hs [][]byte) []byte {
	if len(hs) == 1 {
		return hs[0]
	}
	half := len(hs) / 2
	return HashChildren(SubtreeHash(hs[:half]), SubtreeHash(hs[half:]))
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
